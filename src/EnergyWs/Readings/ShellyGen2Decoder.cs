using System.Text.Json;

namespace EnergyWs.Readings;

/// <summary>
/// Shelly Gen2+ energy meters (Pro EM, Pro 3EM, EM Gen3/Gen4): NotifyStatus / NotifyFullStatus
/// RPC frames from <c>&lt;prefix&gt;/events/rpc</c>, and bare component bodies from
/// <c>&lt;prefix&gt;/status/em1:0</c> and the like. Energy counters are Wh on the wire.
/// </summary>
internal static class ShellyGen2Decoder
{
    private const string StatusSegment = "/status/";
    private const string EventsSuffix = "/events/rpc";

    /// <summary>Channel names for small indexes, so the common case allocates nothing.</summary>
    private static readonly string[] Channels = ["0", "1", "2", "3", "4", "5", "6", "7"];

    private enum Component
    {
        None,
        Em1,
        Em1Data,
        Em,
        EmData,
    }

    /// <summary>A JSON-RPC notification frame: has a string <c>method</c> and an object <c>params</c>.</summary>
    public static bool IsRpcFrame(JsonElement root) =>
        root.TryGetProperty("method", out var method) && method.ValueKind == JsonValueKind.String &&
        root.TryGetProperty("params", out var parameters) && parameters.ValueKind == JsonValueKind.Object;

    public static string? DecodeRpcFrame(JsonElement root, string? topic, List<MeterUpdate> updates)
    {
        var method = root.GetProperty("method");
        if (!method.ValueEquals("NotifyStatus"u8) && !method.ValueEquals("NotifyFullStatus"u8))
        {
            // NotifyEvent and replies to our own calls carry no meter values.
            return DecodeReasons.NoReadings;
        }

        string? device = null;
        if (root.TryGetProperty("src", out var src) && src.ValueKind == JsonValueKind.String)
        {
            device = src.GetString();
        }
        else if (topic is not null && topic.EndsWith(EventsSuffix, StringComparison.Ordinal))
        {
            device = topic[..^EventsSuffix.Length];
        }

        var parameters = root.GetProperty("params");
        DateTimeOffset? timestamp = null;
        if (parameters.TryGetProperty("ts", out var ts))
        {
            if (!JsonValues.TryTimestamp(ts, out var t))
            {
                return DecodeReasons.BadTimestamp;
            }

            timestamp = t;
        }

        foreach (var property in parameters.EnumerateObject())
        {
            var (component, channel) = ParseComponent(property.Name);
            if (component == Component.None || property.Value.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            if (Decode(component, channel, property.Value, device, timestamp, updates) is { } reason)
            {
                return reason;
            }
        }

        return updates.Count == 0 ? DecodeReasons.NoReadings : null;
    }

    /// <summary>The MQTT topic names a status component (<c>…/status/em1:0</c>).</summary>
    public static bool IsStatusTopic(string? topic) =>
        topic is not null && topic.LastIndexOf(StatusSegment, StringComparison.Ordinal) > 0;

    public static string? DecodeStatus(JsonElement body, string topic, List<MeterUpdate> updates)
    {
        var at = topic.LastIndexOf(StatusSegment, StringComparison.Ordinal);
        var (component, channel) = ParseComponent(topic.AsSpan(at + StatusSegment.Length));
        if (component == Component.None || body.ValueKind != JsonValueKind.Object)
        {
            return DecodeReasons.NoReadings;
        }

        // The topic's component key wins over the body's "id" when they disagree: the key is what
        // the device routed the message by.
        return Decode(component, channel, body, topic[..at], timestamp: null, updates) ?? (updates.Count == 0 ? DecodeReasons.NoReadings : null);
    }

    private static string? Decode(Component component, string channel, JsonElement body, string? device, DateTimeOffset? timestamp, List<MeterUpdate> updates)
    {
        var fields = default(MeterFields);
        var reason = component switch
        {
            Component.Em1 => JsonValues.Number(body, "act_power", ref fields.PowerW) ??
                JsonValues.Number(body, "voltage", ref fields.Voltage) ??
                JsonValues.Number(body, "current", ref fields.Current) ??
                JsonValues.Number(body, "pf", ref fields.PowerFactor) ??
                JsonValues.Number(body, "freq", ref fields.FrequencyHz),
            Component.Em1Data => JsonValues.Number(body, "total_act_energy", ref fields.EnergyKwh, 0.001) ??
                JsonValues.Number(body, "total_act_ret_energy", ref fields.EnergyReturnedKwh, 0.001),
            Component.Em => DecodeThreePhase(body, ref fields),
            Component.EmData => JsonValues.Number(body, "total_act", ref fields.EnergyKwh, 0.001) ??
                JsonValues.Number(body, "total_act_ret", ref fields.EnergyReturnedKwh, 0.001),
            _ => null,
        };
        if (reason is not null)
        {
            return reason;
        }

        if (fields.IsEmpty)
        {
            return null;
        }

        // em1 and em1data of one channel in one frame (NotifyFullStatus) make one reading.
        for (var i = 0; i < updates.Count; i++)
        {
            if (updates[i].Channel == channel)
            {
                var existing = updates[i];
                existing.Fields.Apply(fields);
                updates[i] = existing;
                return null;
            }
        }

        updates.Add(new MeterUpdate { Device = device, Channel = channel, Timestamp = timestamp, Fields = fields });
        return null;
    }

    /// <summary>
    /// Three-phase <c>em:N</c>: totals for power and current; voltage is the mean of the phases
    /// that have voltage, since an unconnected phase reads 0 V.
    /// </summary>
    private static string? DecodeThreePhase(JsonElement body, ref MeterFields fields)
    {
        double? a = null, b = null, c = null;
        var reason = JsonValues.Number(body, "total_act_power", ref fields.PowerW) ??
            JsonValues.Number(body, "total_current", ref fields.Current) ??
            JsonValues.Number(body, "a_voltage", ref a) ??
            JsonValues.Number(body, "b_voltage", ref b) ??
            JsonValues.Number(body, "c_voltage", ref c);
        if (reason is not null)
        {
            return reason;
        }

        double sum = 0;
        var count = 0;
        foreach (var v in (ReadOnlySpan<double?>)[a, b, c])
        {
            if (v is > 0)
            {
                sum += v.Value;
                count++;
            }
        }

        if (count > 0)
        {
            fields.Voltage = sum / count;
        }
        else if (a is not null || b is not null || c is not null)
        {
            fields.Voltage = 0;
        }

        return null;
    }

    private static (Component Component, string Channel) ParseComponent(ReadOnlySpan<char> key)
    {
        var colon = key.IndexOf(':');
        if (colon <= 0 || colon == key.Length - 1 || key.Length - colon - 1 > 3)
        {
            return (Component.None, "");
        }

        var index = key[(colon + 1)..];
        foreach (var ch in index)
        {
            if (!char.IsAsciiDigit(ch))
            {
                return (Component.None, "");
            }
        }

        var component = key[..colon] switch
        {
            "em1" => Component.Em1,
            "em1data" => Component.Em1Data,
            "em" => Component.Em,
            "emdata" => Component.EmData,
            _ => Component.None,
        };
        var channel = index.Length == 1 && index[0] - '0' < Channels.Length ? Channels[index[0] - '0'] : index.ToString();
        return (component, channel);
    }
}
