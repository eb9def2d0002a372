using System.Text.Json;

namespace EnergyWs.Readings;

/// <summary>
/// The normalized format this service emits, also accepted as input:
/// <c>{"timestamp": ISO, "power_w": n, "voltage": n, "current": n, "energy_kwh": n}</c>, optionally
/// with <c>device</c>, <c>channel</c> and the extra fields. Each record is a complete reading.
/// </summary>
internal static class NormalizedReadingDecoder
{
    public static bool Matches(JsonElement root) =>
        root.TryGetProperty("power_w", out _) || root.TryGetProperty("timestamp", out _);

    public static string? Decode(JsonElement root, List<MeterUpdate> updates)
    {
        if (!root.TryGetProperty("timestamp", out var ts) || !root.TryGetProperty("power_w", out var power))
        {
            return DecodeReasons.UnknownFormat;
        }

        if (ts.ValueKind != JsonValueKind.String || !JsonValues.TryIso(ts.GetString(), out var timestamp))
        {
            return DecodeReasons.BadTimestamp;
        }

        var fields = default(MeterFields);
        var reason = JsonValues.Number(power, ref fields.PowerW, 1, allowString: false) ??
            JsonValues.Number(root, "voltage", ref fields.Voltage) ??
            JsonValues.Number(root, "current", ref fields.Current) ??
            JsonValues.Number(root, "energy_kwh", ref fields.EnergyKwh) ??
            JsonValues.Number(root, "energy_returned_kwh", ref fields.EnergyReturnedKwh) ??
            JsonValues.Number(root, "power_factor", ref fields.PowerFactor) ??
            JsonValues.Number(root, "frequency_hz", ref fields.FrequencyHz);
        if (reason is not null)
        {
            return reason;
        }

        if (fields.PowerW is null)
        {
            return DecodeReasons.UnknownFormat;
        }

        string? device = null, channel = null;
        if (root.TryGetProperty("device", out var d))
        {
            if (d.ValueKind != JsonValueKind.String)
            {
                return DecodeReasons.BadDevice;
            }

            device = d.GetString();
        }

        if (root.TryGetProperty("channel", out var c) && c.ValueKind == JsonValueKind.String)
        {
            channel = c.GetString();
        }

        updates.Add(new MeterUpdate { Device = device, Channel = channel, Timestamp = timestamp, Fields = fields, Complete = true });
        return null;
    }
}
