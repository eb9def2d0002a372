using System.Reflection;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using CsCheck;
using EnergyWs.Readings;

namespace EnergyWs.Tests.Readings;

/// <summary>
/// Every fixture record (good and bad), mutated the ways a broken producer or bridge breaks them,
/// decoded directly: the decoder never throws, and every rejection carries one of the named reasons.
/// </summary>
public sealed class FixtureMutationTests
{
    /// <summary>Text that breaks decoding: escaped lone surrogates, invalid UTF-8, broken escapes and structure.</summary>
    private static readonly byte[][] Poison =
    [
        "\\ud800"u8.ToArray(), "\\uDFFF"u8.ToArray(), "\\ud800\\u0041"u8.ToArray(), "\\udbff\\udbff"u8.ToArray(), "\\ud83d"u8.ToArray(),
        "\\u12"u8.ToArray(), "\\"u8.ToArray(), "\\\""u8.ToArray(), "\\x41"u8.ToArray(), "\""u8.ToArray(),
        [0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0xE2, 0x82], [0x00], [0x1F],
        "{\"a\":"u8.ToArray(), "]"u8.ToArray(), ","u8.ToArray(), "null"u8.ToArray(), "\\u0000"u8.ToArray(),
    ];

    /// <summary>Numbers at and past the edges: overflow, underflow, non-JSON literals, huge digit runs.</summary>
    private static readonly string[] Numbers =
    [
        "1e999", "-1e999", "1e-999", "NaN", "-Infinity", "Infinity", "1.7976931348623157e308", "4.9e-324", "-0", "0e0", "1E+2",
        "0x1F", "01", ".5", "1.", "1e", "--1", "123456789012345678901234567890123456789", new string('9', 400),
        "1767900600000000", "-1767900600", "\"12.5\"", "\"1e999\"", "\"\\ud800\"", "[1]", "{}", "true",
    ];

    private static readonly string[] Reasons = [.. typeof(DecodeReasons)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral)
        .Select(f => (string)f.GetRawConstantValue()!)];

    private static readonly Seed[] Seeds = LoadSeeds();

    /// <summary>One mutation: its kind, where, which poison or number, a byte, a size.</summary>
    private static readonly Gen<(int Kind, int At, int Pick, byte Byte, int Size)> Mutation =
        Gen.Select(Gen.Int[0, 7], Gen.Int[0, 100_000], Gen.Int[0, 1000], Gen.Byte, Gen.Int[1, 40]);

    /// <summary>A header a bridge adds besides the topic; mappings with header conditions test it.</summary>
    private const string SourceHeader = "x-source";

    /// <summary>One header mutation: its kind, where, which poison, a size.</summary>
    private static readonly Gen<(int Kind, int At, int Pick, int Size)> HeaderMutation =
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 100_000], Gen.Int[0, 1000], Gen.Int[1, 40]);

    [Fact]
    public void MutatedFixtureRecords_NeverThrow_RejectionsCarryANamedReason()
    {
        // Each mapping twice: as the fixture has it, and behind topic and header conditions, so the
        // mqtt_topic header and the header conditions read what the mutations make of the headers.
        var decoders = Seeds.Select(s => s.Mapping).Distinct()
            .SelectMany(m => new[] { (m, false), (m, true) })
            .ToDictionary(d => (d.m ?? "", d.Item2), d => CreateDecoder(d.m, d.Item2));
        var rejectedByReason = new Dictionary<string, int>();
        try
        {
            Gen.Select(Gen.Int[0, Seeds.Length - 1], Mutation.Array[1, 3], Gen.Int[0, 3], HeaderMutation.Array[0, 3], Gen.Bool).Sample(
                (index, mutations, target, headerMutations, conditioned) =>
                {
                    var seed = Seeds[index];
                    var key = seed.Key is null ? null : Encoding.UTF8.GetBytes(seed.Key);
                    var value = Encoding.UTF8.GetBytes(seed.Value);
                    foreach (var mutation in mutations)
                    {
                        // Mostly the value; sometimes the key, which carries the MQTT topic.
                        if (target == 0 && key is not null)
                        {
                            key = Mutate(key, mutation);
                        }
                        else
                        {
                            value = Mutate(value, mutation);
                        }
                    }

                    var headers = MutatedHeaders(seed, headerMutations);
                    var output = new List<Reading>();
                    var result = decoders[(seed.Mapping ?? "", conditioned)].Decoder.Decode(TestDecoder.Record(key, value, headers: headers), output);
                    if (!result.Ok)
                    {
                        Assert.Empty(output);
                        Assert.Contains(result.Reason, Reasons);
                        rejectedByReason[result.Reason!] = rejectedByReason.GetValueOrDefault(result.Reason!) + 1;
                    }
                },
                iter: 20_000,
                threads: 1,
                print: t => $"{Seeds[t.Item1].Name} mutated {string.Join(", ", t.Item2)} (target {t.Item3}), headers {string.Join(", ", t.Item4)}, conditioned {t.Item5}");
        }
        finally
        {
            foreach (var decoder in decoders.Values)
            {
                decoder.Dispose();
            }
        }

        // The mutations must reach the text check and the number checks, or the property says little.
        Assert.True(rejectedByReason.GetValueOrDefault(DecodeReasons.BadText) > 100, Describe(rejectedByReason));
        Assert.True(rejectedByReason.GetValueOrDefault(DecodeReasons.NonFinite) + rejectedByReason.GetValueOrDefault(DecodeReasons.BadNumber) > 100, Describe(rejectedByReason));
    }

    private static byte[] Mutate(byte[] bytes, (int Kind, int At, int Pick, byte Byte, int Size) m)
    {
        var at = m.At % (bytes.Length + 1);
        var poison = Poison[m.Pick % Poison.Length];
        switch (m.Kind)
        {
            case 0:
                // Into a string (or a property name): just after a quote.
                var quote = bytes.AsSpan(at).IndexOf((byte)'"');
                return quote < 0 ? [.. bytes, .. poison] : Insert(bytes, at + quote + 1, poison);
            case 1:
                return Insert(bytes, at, poison);
            case 2:
                // A number replaced by an edge case (or by something that is not a number at all).
                var digit = bytes.AsSpan(at).IndexOfAnyInRange((byte)'0', (byte)'9');
                if (digit < 0)
                {
                    return Insert(bytes, at, Encoding.UTF8.GetBytes(Numbers[m.Pick % Numbers.Length]));
                }

                var start = at + digit;
                var end = start;
                while (end < bytes.Length && (char.IsAsciiDigit((char)bytes[end]) || bytes[end] is (byte)'.' or (byte)'e' or (byte)'E' or (byte)'+' or (byte)'-'))
                {
                    end++;
                }

                return [.. bytes[..start], .. Encoding.UTF8.GetBytes(Numbers[m.Pick % Numbers.Length]), .. bytes[end..]];
            case 3:
                // Nesting around the whole record, as far as past the depth limit.
                var (open, close) = m.Pick % 2 == 0 ? ("{\"payload\":", "}") : ("[", "]");
                return [.. Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(open, m.Size))), .. bytes, .. Encoding.UTF8.GetBytes(new string(close[0], m.Size))];
            case 4:
                // Nesting inside, where a value was.
                var colon = bytes.AsSpan(at).IndexOf((byte)':');
                return colon < 0 ? bytes : Insert(bytes, at + colon + 1, Encoding.UTF8.GetBytes(new string('[', m.Size) + "1" + new string(']', m.Size) + ","));
            case 5:
                return bytes[..at];
            case 6 when at < bytes.Length:
                var copy = bytes.ToArray();
                copy[at] = m.Byte;
                return copy;
            default:
                return [.. bytes[..at], .. bytes[Math.Min(bytes.Length, at + m.Size)..]];
        }
    }

    /// <summary>
    /// The headers a bridge would send with the seed (its topic as mqtt_topic when the key is one,
    /// and a source), or none at all, broken the ways a producer breaks them.
    /// </summary>
    private static Headers? MutatedHeaders(Seed seed, (int Kind, int At, int Pick, int Size)[] mutations)
    {
        if (mutations.Length == 0)
        {
            return null;
        }

        var topic = seed.Key is { } key && key.Contains('/', StringComparison.Ordinal) ? key : "shellies/shellyem-C45BBE6B4A21/emeter/0/power";
        var entries = new List<(string Name, byte[]? Value)> { (RecordTopic.HeaderName, Encoding.UTF8.GetBytes(topic)), (SourceHeader, "bridge-1"u8.ToArray()) };
        foreach (var m in mutations)
        {
            var target = m.Pick % entries.Count;
            switch (m.Kind)
            {
                case 0:
                    // Poison in the value: invalid UTF-8, a lone surrogate (as UTF-8 bytes or escaped), broken escapes.
                    var value = entries[target].Value ?? [];
                    entries[target] = (entries[target].Name, Insert(value, m.At % (value.Length + 1), Poison[m.Pick % Poison.Length]));
                    break;
                case 1:
                    // Far past any sensible topic length: up to 160 KB.
                    entries[target] = (entries[target].Name, [.. entries[target].Value ?? [], .. Enumerable.Repeat((byte)'a', m.Size * 4096)]);
                    break;
                case 2:
                    // Many headers, with the topic's name repeated: the last one counts.
                    for (var i = 0; i < m.Size * 50; i++)
                    {
                        entries.Add((i % 3 == 0 ? RecordTopic.HeaderName : $"h{i}", Encoding.UTF8.GetBytes($"shellies/x{i}/emeter/0/power")));
                    }

                    break;
                case 3:
                    entries[target] = (entries[target].Name, null);
                    break;
                case 4:
                    entries[target] = (entries[target].Name, []);
                    break;
                default:
                    // A lone surrogate as raw (WTF-8) bytes for the whole value.
                    entries[target] = (entries[target].Name, [0xED, 0xB0, 0x80]);
                    break;
            }
        }

        var headers = new Headers();
        foreach (var (name, value) in entries)
        {
            headers.Add(name, value);
        }

        return headers;
    }

    private static byte[] Insert(byte[] bytes, int at, byte[] insert) => [.. bytes[..at], .. insert, .. bytes[at..]];

    private static string Describe(Dictionary<string, int> counts) => string.Join(", ", counts.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"));

    private static TestDecoder CreateDecoder(string? mapping, bool conditioned)
    {
        var options = new ReadingsOptions { MaxDevices = 100 };
        if (mapping is not null)
        {
            var fields = new MappingOptions();
            foreach (var field in JsonDocument.Parse(mapping).RootElement.EnumerateObject())
            {
                fields.Fields[field.Name] = field.Value.ValueKind == JsonValueKind.String
                    ? field.Value.GetString()!
                    : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{field.Value.GetProperty("path").GetString()}*{field.Value.GetProperty("scale").GetDouble()}");
            }

            if (conditioned)
            {
                fields.Topic = "^shellies/";
                fields.Headers[RecordTopic.HeaderName] = "/power$";
                fields.Headers[SourceHeader] = "^bridge-[0-9]+$";
            }

            options.Mappings.Add(fields);
        }

        return new TestDecoder(options);
    }

    /// <summary>Each record of each fixture case (with the case's mapping), and each bad record with a value.</summary>
    private static Seed[] LoadSeeds()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Readings", "Fixtures", "meter-payloads.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var seeds = new List<Seed>();
        foreach (var testCase in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            var mapping = testCase.TryGetProperty("mapping", out var m) ? m.GetRawText() : null;
            foreach (var record in testCase.GetProperty("records").EnumerateArray())
            {
                var key = record.TryGetProperty("key", out var k) ? k.GetString() : null;
                seeds.Add(new Seed(testCase.GetProperty("name").GetString()!, key, record.GetProperty("value").GetString()!, mapping));
            }
        }

        foreach (var bad in document.RootElement.GetProperty("bad").EnumerateArray())
        {
            if (bad.GetProperty("value").ValueKind == JsonValueKind.String)
            {
                seeds.Add(new Seed(bad.GetProperty("name").GetString()!, null, bad.GetProperty("value").GetString()!, null));
            }
        }

        return [.. seeds];
    }

    private sealed record Seed(string Name, string? Key, string Value, string? Mapping);
}
