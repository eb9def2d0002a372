using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;

namespace EnergyWs.Readings;

/// <summary>Applies the configured <c>Readings:Mappings</c>: other meters and bridges without code.</summary>
internal static class MappingDecoder
{
    public static bool Matches(FieldMapping mapping, string? topic, string? key, Headers? headers, JsonElement root)
    {
        if (mapping.TopicPattern is { } t && (topic is null || !t.IsMatch(topic)))
        {
            return false;
        }

        if (mapping.KeyPattern is { } k && (key is null || !k.IsMatch(key)))
        {
            return false;
        }

        foreach (var (name, pattern) in mapping.HeaderPatterns)
        {
            if (headers is null || !headers.TryGetLastBytes(name, out var bytes) || bytes is null || bytes.Length > RecordTopic.MaxLength ||
                !pattern.IsMatch(Encoding.UTF8.GetString(bytes)))
            {
                return false;
            }
        }

        foreach (var path in mapping.Require)
        {
            if (!path.TryResolve(root, out _))
            {
                return false;
            }
        }

        return true;
    }

    public static string? Decode(FieldMapping mapping, JsonElement root, List<MeterUpdate> updates)
    {
        var update = default(MeterUpdate);
        foreach (var (target, path) in mapping.Fields)
        {
            if (!path.TryResolve(root, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            var reason = target switch
            {
                "timestamp" => Timestamp(value, ref update.Timestamp),
                "device" => Text(value, ref update.Device, DecodeReasons.BadDevice),
                "channel" => Text(value, ref update.Channel, DecodeReasons.BadDevice),
                "power_w" => JsonValues.Number(value, ref update.Fields.PowerW, path.Scale, allowString: true),
                "voltage" => JsonValues.Number(value, ref update.Fields.Voltage, path.Scale, allowString: true),
                "current" => JsonValues.Number(value, ref update.Fields.Current, path.Scale, allowString: true),
                "energy_kwh" => JsonValues.Number(value, ref update.Fields.EnergyKwh, path.Scale, allowString: true),
                "energy_returned_kwh" => JsonValues.Number(value, ref update.Fields.EnergyReturnedKwh, path.Scale, allowString: true),
                "power_factor" => JsonValues.Number(value, ref update.Fields.PowerFactor, path.Scale, allowString: true),
                "frequency_hz" => JsonValues.Number(value, ref update.Fields.FrequencyHz, path.Scale, allowString: true),
                _ => null,
            };
            if (reason is not null)
            {
                return reason;
            }
        }

        if (update.Fields.IsEmpty)
        {
            return DecodeReasons.NoReadings;
        }

        // Without a device the reading stands alone, like the seed format.
        update.Complete = update.Device is null;
        updates.Add(update);
        return null;
    }

    private static string? Timestamp(JsonElement value, ref DateTimeOffset? timestamp)
    {
        if (!JsonValues.TryTimestamp(value, out var t))
        {
            return DecodeReasons.BadTimestamp;
        }

        timestamp = t;
        return null;
    }

    private static string? Text(JsonElement value, ref string? text, string reason)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                text = value.GetString();
                return null;
            case JsonValueKind.Number when value.TryGetInt64(out var n):
                // Serial numbers are often numbers in JSON.
                text = n.ToString(CultureInfo.InvariantCulture);
                return null;
            default:
                return reason;
        }
    }
}
