using System.Text.Json;

namespace EnergyWs.Readings;

/// <summary>
/// The normalized format this service emits, also accepted as input:
/// <c>{"timestamp": ISO, "power_w": n, "voltage": n, "current": n, "energy_kwh": n}</c>, optionally
/// with <c>device</c>, <c>channel</c>, the extra fields and the per-phase ones. Each record is a
/// complete reading.
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

        if (Phases(root, out var phases) is { } bad)
        {
            return bad;
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

        updates.Add(new MeterUpdate { Device = device, Channel = channel, Timestamp = timestamp, Fields = fields, Phases = phases, Complete = true });
        return null;
    }

    /// <summary>The per-phase fields this service writes, so a reading it emitted reads back the same.</summary>
    private static string? Phases(JsonElement root, out PhaseValues? phases)
    {
        phases = null;
        double? p1 = null, p2 = null, p3 = null, v1 = null, v2 = null, v3 = null, c1 = null, c2 = null, c3 = null;
        var reason = JsonValues.Number(root, "power_l1_w", ref p1) ?? JsonValues.Number(root, "power_l2_w", ref p2) ??
            JsonValues.Number(root, "power_l3_w", ref p3) ?? JsonValues.Number(root, "voltage_l1", ref v1) ??
            JsonValues.Number(root, "voltage_l2", ref v2) ?? JsonValues.Number(root, "voltage_l3", ref v3) ??
            JsonValues.Number(root, "current_l1", ref c1) ?? JsonValues.Number(root, "current_l2", ref c2) ??
            JsonValues.Number(root, "current_l3", ref c3);
        Phase l1 = new(p1, v1, c1), l2 = new(p2, v2, c2), l3 = new(p3, v3, c3);
        if (reason is null && !(l1.IsEmpty && l2.IsEmpty && l3.IsEmpty))
        {
            phases = new PhaseValues(l1, l2, l3);
        }

        return reason;
    }
}
