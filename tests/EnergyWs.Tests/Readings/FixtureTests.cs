using System.Text.Json;
using EnergyWs.Readings;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Readings;

/// <summary>Every case of the shared meter-payload fixture (copied into the test project), data-driven.</summary>
public sealed class FixtureTests
{
    private static readonly JsonElement Fixture = LoadFixture();

    /// <summary>The reason each known bad record must be skipped with; new fixture entries need only some reason.</summary>
    private static readonly Dictionary<string, string> BadReasons = new()
    {
        ["not-json"] = DecodeReasons.NotJson,
        ["empty-object"] = DecodeReasons.UnknownFormat,
        ["string-power"] = DecodeReasons.BadNumber,
        ["overflow-number"] = DecodeReasons.NonFinite,
        ["nan-literal"] = DecodeReasons.NotJson,
        ["truncated"] = DecodeReasons.NotJson,
        ["null-value-tombstone"] = DecodeReasons.Empty,
        ["empty-value"] = DecodeReasons.Empty,
        ["deep-nesting"] = DecodeReasons.TooDeep,
        ["bad-timestamp"] = DecodeReasons.BadTimestamp,
    };

    public static TheoryData<string> CaseNames() => [.. Fixture.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];

    public static TheoryData<string> BadNames() => [.. Fixture.GetProperty("bad").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Case_DecodesAsExpected(string name)
    {
        var testCase = Fixture.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        var options = new ReadingsOptions();
        if (testCase.TryGetProperty("mapping", out var mapping))
        {
            options.Mappings.Add(ToOptions(mapping));
        }

        // Arrival time is far from every expected timestamp, so falling back to it would show.
        var time = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var test = new TestDecoder(options, time);
        var emitted = new List<Reading>();
        foreach (var record in testCase.GetProperty("records").EnumerateArray())
        {
            var key = record.TryGetProperty("key", out var k) ? k.GetString() : null;
            long? ts = record.TryGetProperty("timestamp_ms", out var t) ? t.GetInt64() : null;
            var readings = test.Accept(key, record.GetProperty("value").GetString()!, ts);
            Assert.NotEmpty(readings);
            emitted.AddRange(readings);
        }

        var last = emitted[^1];
        var json = JsonDocument.Parse(ReadingJson.Serialize(last)).RootElement;
        foreach (var expected in testCase.GetProperty("expect").EnumerateObject())
        {
            switch (expected.Name)
            {
                case "timestamp":
                    Assert.Equal(DateTimeOffset.Parse(expected.Value.GetString()!, System.Globalization.CultureInfo.InvariantCulture), last.Timestamp);
                    Assert.EndsWith("Z", json.GetProperty("timestamp").GetString(), StringComparison.Ordinal);
                    break;
                case "voltage_between":
                    var voltage = json.GetProperty("voltage").GetDouble();
                    Assert.InRange(voltage, expected.Value[0].GetDouble(), expected.Value[1].GetDouble());
                    break;
                case "device" or "channel":
                    Assert.Equal(expected.Value.GetString(), json.GetProperty(expected.Name).GetString());
                    break;
                default:
                    Assert.Equal(expected.Value.GetDouble(), json.GetProperty(expected.Name).GetDouble(), 1e-9);
                    break;
            }
        }

        // Every timestamp on the wire is UTC with at most millisecond precision.
        Assert.Equal(0, last.Timestamp.UtcTicks % TimeSpan.TicksPerMillisecond);
    }

    [Theory]
    [MemberData(nameof(BadNames))]
    public void BadRecord_IsSkippedWithReasonAndEmitsNothing(string name)
    {
        var bad = Fixture.GetProperty("bad").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        using var test = new TestDecoder();
        var value = bad.GetProperty("value");

        // Also after state exists for a device, so a bad record cannot re-emit a stale reading.
        test.Accept("shellyproem50-08f9e0e5a1b2/status/em1:0", "{\"id\":0,\"act_power\":5}");
        var reason = test.Reject(null, value.ValueKind == JsonValueKind.Null ? null : value.GetString());

        if (BadReasons.TryGetValue(name, out var expected))
        {
            Assert.Equal(expected, reason);
        }
    }

    /// <summary>The fixture writes a field as a path or {path, scale}; configuration takes "path*scale".</summary>
    private static MappingOptions ToOptions(JsonElement mapping)
    {
        var options = new MappingOptions();
        foreach (var field in mapping.EnumerateObject())
        {
            options.Fields[field.Name] = field.Value.ValueKind == JsonValueKind.String
                ? field.Value.GetString()!
                : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{field.Value.GetProperty("path").GetString()}*{field.Value.GetProperty("scale").GetDouble()}");
        }

        return options;
    }

    private static JsonElement LoadFixture()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Readings", "Fixtures", "meter-payloads.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return document.RootElement.Clone();
    }
}
