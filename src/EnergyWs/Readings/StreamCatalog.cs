using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace EnergyWs.Readings;

/// <summary>One configured stream, compiled: its name, its bit in a client's selection, its topic and how its records are read.</summary>
internal sealed class StreamDefinition
{
    internal StreamDefinition(string name, int index, string topic, StreamFormat format, (string Name, JsonPath Path)[] fields, JsonPath? device, JsonPath? timestamp, TimeSpan staleAfter, string? scope = null)
    {
        Name = name;
        Index = index;
        Bit = 1UL << index;
        Topic = topic;
        Format = format;
        Fields = fields;
        Device = device;
        Timestamp = timestamp;
        StaleAfter = staleAfter;
        Scope = scope;
        // The name pattern leaves nothing to escape.
        NamedPrefix = Encoding.UTF8.GetBytes($"{{\"stream\":\"{name}\",");
    }

    public string Name { get; }

    /// <summary>0 for <c>energy</c>, then in the order configured.</summary>
    public int Index { get; }

    /// <summary>This stream's bit in <see cref="ClientSelection.Streams"/>.</summary>
    public ulong Bit { get; }

    public string Topic { get; }

    public StreamFormat Format { get; }

    /// <summary>Empty: the record's members pass through.</summary>
    public (string Name, JsonPath Path)[] Fields { get; }

    public JsonPath? Device { get; }

    public JsonPath? Timestamp { get; }

    /// <summary>No record for longer than this is stale; <see cref="TimeSpan.Zero"/>: never.</summary>
    public TimeSpan StaleAfter { get; }

    /// <summary>The token scope needed to read it; null: any accepted token.</summary>
    public string? Scope { get; }

    /// <summary><c>{"stream":"&lt;name&gt;",</c>: how every frame of a named stream starts.</summary>
    public ReadOnlyMemory<byte> NamedPrefix { get; }
}

/// <summary>
/// Every stream, checked and compiled once at start from <see cref="StreamsOptions"/>. The
/// consumer reads their topics; the pipeline routes each record to its stream by topic; clients
/// choose streams by name.
/// </summary>
internal sealed partial class StreamCatalog
{
    // Output names every frame of a named stream carries itself.
    private static readonly string[] Reserved = ["stream", "timestamp", "device"];

    private readonly Dictionary<string, StreamDefinition> _byName;
    private readonly Dictionary<string, StreamDefinition> _byTopic;

    private StreamCatalog(List<StreamDefinition> streams)
    {
        Streams = streams;
        _byName = streams.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _byTopic = streams.ToDictionary(s => s.Topic, StringComparer.Ordinal);
    }

    public StreamCatalog(IOptions<StreamsOptions> options)
        : this(BuildOrThrow(options))
    {
    }

    /// <summary>Index order; <c>energy</c> first.</summary>
    public IReadOnlyList<StreamDefinition> Streams { get; }

    public StreamDefinition Energy => Streams[0];

    /// <summary>Bits of every stream.</summary>
    public ulong AllBits => Streams.Count == StreamsOptions.MaxStreams ? ulong.MaxValue : (1UL << Streams.Count) - 1;

    public bool TryGetByName(string name, out StreamDefinition stream) => _byName.TryGetValue(name, out stream!);

    /// <summary>The stream a record belongs to (consumer thread, once per record).</summary>
    public bool TryGetByTopic(string topic, out StreamDefinition stream) => _byTopic.TryGetValue(topic, out stream!);

    /// <summary>A catalog of the energy stream alone, on <paramref name="topic"/> (tests and tools).</summary>
    internal static StreamCatalog EnergyOnly(string topic) =>
        new([new StreamDefinition(StreamsOptions.Energy, 0, topic, StreamFormat.Energy, [], null, null, StreamsOptions.DefaultEnergyStaleAfter)]);

    /// <summary>Compiles every stream; problems come back as one line each naming the setting.</summary>
    internal static List<StreamDefinition> Build(StreamsOptions options, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(options);
        var streams = new List<StreamDefinition>();
        var topics = new Dictionary<string, string>(StringComparer.Ordinal);
        options.Streams.TryGetValue(StreamsOptions.Energy, out var energy);
        if (Compile(StreamsOptions.Energy, energy ?? new StreamOptions(), options.DefaultEnergyTopic, 0, topics, errors) is { } first)
        {
            streams.Add(first);
        }

        // Configuration providers hand keys over in no fixed order: sort, so indexes are stable.
        foreach (var (name, stream) in options.Streams.Where(s => s.Key != StreamsOptions.Energy).OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!StreamsOptions.NamePattern().IsMatch(name))
            {
                errors.Add($"Streams:{name}: a stream name is 1-32 of lower-case letters, digits, '_' or '-', starting with a letter.");
                continue;
            }

            if (Compile(name, stream, null, streams.Count, topics, errors) is { } compiled)
            {
                streams.Add(compiled);
            }
        }

        if (options.Streams.Count > StreamsOptions.MaxStreams - (energy is null ? 1 : 0))
        {
            errors.Add($"Streams: at most {StreamsOptions.MaxStreams} streams, energy included.");
        }

        return streams;
    }

    private static List<StreamDefinition> BuildOrThrow(IOptions<StreamsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var streams = Build(options.Value, errors);
        if (errors.Count > 0)
        {
            // The options validator reports these at start; reaching here means it was bypassed.
            throw new OptionsValidationException(StreamsOptions.Section, typeof(StreamsOptions), errors);
        }

        return streams;
    }

    private static StreamDefinition? Compile(string name, StreamOptions options, string? defaultTopic, int index, Dictionary<string, string> topics, List<string> errors)
    {
        var setting = $"Streams:{name}";
        var before = errors.Count;
        // Kafka:Topic, the default, is checked (and reported) by Kafka's own options.
        var topic = options.Topic ?? defaultTopic;
        if (string.IsNullOrWhiteSpace(topic))
        {
            errors.Add($"{setting}:Topic is required.");
        }
        else if (options.Topic is not null && !TopicPattern().IsMatch(topic))
        {
            errors.Add($"{setting}:Topic must be 1-249 characters of letters, digits, '.', '_' or '-'.");
        }
        else if (!topics.TryAdd(topic, name))
        {
            errors.Add($"{setting}:Topic '{topic}' is the topic of stream '{topics[topic]}' too; each stream reads a topic of its own.");
        }

        var isEnergy = name == StreamsOptions.Energy;
        StreamFormat? format = options.Format switch
        {
            null => isEnergy ? StreamFormat.Energy : StreamFormat.Json,
            var text when text.Equals("energy", StringComparison.OrdinalIgnoreCase) => StreamFormat.Energy,
            var text when text.Equals("json", StringComparison.OrdinalIgnoreCase) => StreamFormat.Json,
            _ => null,
        };
        if (format is null)
        {
            errors.Add($"{setting}:Format must be energy or json.");
        }
        else if (isEnergy != (format == StreamFormat.Energy))
        {
            errors.Add(isEnergy
                ? $"{setting}:Format must be energy: plain /ws serves this stream as normalized readings."
                : $"{setting}:Format must be json: only the energy stream is decoded into normalized readings.");
        }

        var fields = new List<(string, JsonPath)>();
        foreach (var (output, text) in options.Fields)
        {
            if (string.IsNullOrWhiteSpace(output) || output.Length > 64 || output.Any(char.IsControl))
            {
                errors.Add($"{setting}:Fields:{output}: an output name is 1-64 printable characters.");
            }
            else if (Reserved.Contains(output, StringComparer.Ordinal))
            {
                errors.Add($"{setting}:Fields:{output}: '{output}' is set by the service on every frame; name the field otherwise.");
            }
            else if (!JsonPath.TryParse(text, allowScale: true, out var path, out var error))
            {
                errors.Add($"{setting}:Fields:{output}: {error}");
            }
            else
            {
                fields.Add((output, path));
            }
        }

        if (isEnergy && options.Fields.Count > 0)
        {
            errors.Add($"{setting}:Fields: the energy stream's fields are the reading's; map other meters with Readings:Mappings.");
        }

        var device = Path(options.Device, $"{setting}:Device", errors);
        var timestamp = Path(options.Timestamp, $"{setting}:Timestamp", errors);
        if (isEnergy && (options.Device is not null || options.Timestamp is not null))
        {
            errors.Add($"{setting}: Device and Timestamp are for json streams; the energy stream's decoders find them.");
        }

        var staleAfter = options.StaleAfter ?? (isEnergy ? StreamsOptions.DefaultEnergyStaleAfter : StreamsOptions.DefaultStaleAfter);
        if (staleAfter < TimeSpan.Zero || staleAfter > StreamsOptions.MaxStaleAfter)
        {
            errors.Add($"{setting}:StaleAfter must be between 00:00:00 (no alarm) and 1.00:00:00.");
        }
        else if (staleAfter > TimeSpan.Zero && staleAfter < StreamsOptions.MinStaleAfter)
        {
            // Staleness is checked once a second: a shorter threshold would be decided by that tick.
            errors.Add($"{setting}:StaleAfter must be 00:00:00 (no alarm) or at least 00:00:05.");
        }

        if (options.Scope is not null && !ScopePattern().IsMatch(options.Scope))
        {
            errors.Add($"{setting}:Scope must be one scope token: 1-128 printable ASCII characters without spaces, '\"' or '\\' (RFC 6749 §3.3).");
        }

        return errors.Count > before
            ? null
            : new StreamDefinition(name, index, topic!, format!.Value, [.. fields.OrderBy(f => f.Item1, StringComparer.Ordinal)], device, timestamp, staleAfter, options.Scope);
    }

    private static JsonPath? Path(string? text, string setting, List<string> errors)
    {
        if (text is null)
        {
            return null;
        }

        if (JsonPath.TryParse(text, allowScale: false, out var path, out var error))
        {
            return path;
        }

        errors.Add($"{setting}: {error}");
        return null;
    }

    [GeneratedRegex("^[a-zA-Z0-9._-]{1,249}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex TopicPattern();

    // RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ).
    [GeneratedRegex("^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,128}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex ScopePattern();
}
