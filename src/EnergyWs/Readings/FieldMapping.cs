using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace EnergyWs.Readings;

/// <summary>A configured mapping, checked and compiled once at start.</summary>
internal sealed class FieldMapping
{
    /// <summary>Keeps a pathological pattern from stalling the consumer thread on a hostile topic.</summary>
    private const RegexOptions PatternOptions = RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    private static readonly string[] Targets =
        ["timestamp", "device", "channel", "power_w", "voltage", "current", "energy_kwh", "energy_returned_kwh", "power_factor", "frequency_hz"];

    private FieldMapping(Regex? topic, Regex? key, (string Name, Regex Pattern)[] headers, JsonPath[] require, (string Target, JsonPath Path)[] fields)
    {
        TopicPattern = topic;
        KeyPattern = key;
        HeaderPatterns = headers;
        Require = require;
        Fields = fields;
    }

    public Regex? TopicPattern { get; }

    public Regex? KeyPattern { get; }

    public (string Name, Regex Pattern)[] HeaderPatterns { get; }

    public JsonPath[] Require { get; }

    public (string Target, JsonPath Path)[] Fields { get; }

    /// <summary>Compiles every mapping; problems come back as one line each naming the setting.</summary>
    public static List<FieldMapping> CompileAll(IReadOnlyList<MappingOptions> options, List<string> errors)
    {
        var result = new List<FieldMapping>(options.Count);
        for (var i = 0; i < options.Count; i++)
        {
            if (Compile(options[i], $"{ReadingsOptions.Section}:Mappings:{i}", errors) is { } mapping)
            {
                result.Add(mapping);
            }
        }

        return result;
    }

    private static FieldMapping? Compile(MappingOptions options, string name, List<string> errors)
    {
        var before = errors.Count;
        var topic = Pattern(options.Topic, $"{name}:Topic", errors);
        var key = Pattern(options.Key, $"{name}:Key", errors);
        var headers = new List<(string, Regex)>();
        foreach (var (header, pattern) in options.Headers)
        {
            if (Pattern(pattern, $"{name}:Headers:{header}", errors) is { } regex)
            {
                headers.Add((header, regex));
            }
        }

        var require = new List<JsonPath>();
        for (var i = 0; i < options.Require.Count; i++)
        {
            if (JsonPath.TryParse(options.Require[i], allowScale: false, out var path, out var error))
            {
                require.Add(path);
            }
            else
            {
                errors.Add($"{name}:Require:{i}: {error}");
            }
        }

        var fields = new List<(string, JsonPath)>();
        foreach (var (target, text) in options.Fields)
        {
            var canonical = Array.Find(Targets, t => string.Equals(t, target, StringComparison.OrdinalIgnoreCase));
            if (canonical is null)
            {
                errors.Add($"{name}:Fields:{target}: unknown reading field (one of {string.Join(", ", Targets)})");
            }
            else if (!JsonPath.TryParse(text, allowScale: canonical is not ("timestamp" or "device" or "channel"), out var path, out var error))
            {
                errors.Add($"{name}:Fields:{target}: {error}");
            }
            else
            {
                fields.Add((canonical, path));
            }
        }

        if (fields.Count == 0 && errors.Count == before)
        {
            errors.Add($"{name}:Fields: at least one reading field must be mapped");
        }

        if (errors.Count > before)
        {
            return null;
        }

        if (topic is null && key is null && headers.Count == 0 && require.Count == 0)
        {
            // No explicit condition: the mapping recognizes records by the paths it maps.
            require.AddRange(fields.Select(f => f.Item2));
        }

        return new FieldMapping(topic, key, [.. headers], [.. require], [.. fields]);
    }

    private static Regex? Pattern(string? pattern, string name, List<string> errors)
    {
        if (string.IsNullOrEmpty(pattern))
        {
            return null;
        }

        try
        {
            return new Regex(pattern, PatternOptions);
        }
        catch (ArgumentException ex)
        {
            errors.Add($"{name}: invalid regular expression ({ex.Message})");
            return null;
        }
    }
}

/// <summary>A dot-separated JSON path (<c>fields.voltage_l1</c>, <c>phases.0.v</c>) with an optional unit scale.</summary>
internal sealed class JsonPath
{
    private readonly string[] _segments;

    private JsonPath(string[] segments, double scale)
    {
        _segments = segments;
        Scale = scale;
    }

    public double Scale { get; }

    public static bool TryParse(string? text, bool allowScale, out JsonPath path, out string? error)
    {
        path = null!;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty path";
            return false;
        }

        var scale = 1.0;
        var star = text.IndexOf('*', StringComparison.Ordinal);
        if (star >= 0)
        {
            if (!allowScale)
            {
                error = $"'{text}': a scale applies to number fields only";
                return false;
            }

            if (!double.TryParse(text.AsSpan(star + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out scale) || !double.IsFinite(scale) || scale == 0)
            {
                error = $"'{text}': scale after '*' must be a non-zero number";
                return false;
            }

            text = text[..star];
        }

        var segments = text.Trim().Split('.');
        if (segments.Any(s => s.Length == 0))
        {
            error = $"'{text}': empty segment in path";
            return false;
        }

        path = new JsonPath(segments, scale);
        return true;
    }

    public bool TryResolve(JsonElement root, out JsonElement value)
    {
        value = root;
        foreach (var segment in _segments)
        {
            if (value.ValueKind == JsonValueKind.Object)
            {
                if (!value.TryGetProperty(segment, out value))
                {
                    return false;
                }
            }
            else if (value.ValueKind == JsonValueKind.Array &&
                int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < value.GetArrayLength())
            {
                value = value[index];
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    public override string ToString() => string.Join('.', _segments);
}
