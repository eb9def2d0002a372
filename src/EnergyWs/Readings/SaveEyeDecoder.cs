using System.Text.Json;

namespace EnergyWs.Readings;

/// <summary>
/// SaveEye HAN-port readers: the payload they publish over MQTT (<c>saveeyeDeviceSerialNumber</c>,
/// <c>activeActualConsumption{L1,L2,L3,total}</c>, <c>rmsVoltage</c>, <c>rmsCurrent</c>, …), and the
/// record the original deployment's Redpanda Connect bridge makes of it: that payload with
/// <c>ts</c>, <c>tags{device_serial}</c> and flat <c>fields{active_power_total, voltage_l1, …}</c>
/// added. Each value is read from the bridge's <c>fields</c> when the record has it there, else
/// from the raw payload. Units are SaveEye's message schema's: power W, energy Wh, voltage V,
/// current mA, power factor %.
/// </summary>
internal static class SaveEyeDecoder
{
    private const double MilliampsToAmps = 0.001;
    private const double WhToKwh = 0.001;
    private const double PercentToRatio = 0.01;

    private static readonly string[] Lines = ["L1", "L2", "L3"];
    private static readonly string[] BridgePower = ["active_power_l1", "active_power_l2", "active_power_l3"];
    private static readonly string[] BridgeVoltage = ["voltage_l1", "voltage_l2", "voltage_l3"];
    private static readonly string[] BridgeCurrent = ["current_l1", "current_l2", "current_l3"];

    /// <summary>The bridge's <c>fields</c> with <c>active_power_total</c>, or the raw payload's <c>activeActualConsumption</c> object.</summary>
    public static bool Matches(JsonElement root) =>
        (Bridge(root) is { } fields && fields.TryGetProperty("active_power_total", out _)) ||
        (root.TryGetProperty("activeActualConsumption", out var raw) && raw.ValueKind == JsonValueKind.Object);

    public static string? Decode(JsonElement root, List<MeterUpdate> updates)
    {
        var fields = Bridge(root);
        var update = default(MeterUpdate);
        if ((Timestamp(root, ref update.Timestamp) ?? Device(root, ref update.Device)) is { } bad)
        {
            return bad;
        }

        double? imported = null, exported = null;
        var reason = Read(fields, "active_power_total", root, "activeActualConsumption", "total", ref imported) ??
            Read(fields, "active_production_total", root, "activeActualProduction", "total", ref exported) ??
            Read(fields, "active_energy_total", root, "activeTotalConsumption", "total", ref update.Fields.EnergyKwh, WhToKwh) ??
            Read(fields, "active_energy_production", root, "activeTotalProduction", "total", ref update.Fields.EnergyReturnedKwh, WhToKwh) ??
            Read(fields, "power_factor", root, "powerFactor", "total", ref update.Fields.PowerFactor, PercentToRatio);
        if (reason is not null)
        {
            return reason;
        }

        update.Fields.PowerW = Net(imported, exported);

        Span<Phase> phases = stackalloc Phase[3];
        double voltageSum = 0, currentMilliamps = 0;
        int live = 0, withVoltage = 0, withCurrent = 0, reported = 0;
        for (var i = 0; i < phases.Length; i++)
        {
            double? power = null, back = null, voltage = null, current = null;
            reason = Read(fields, BridgePower[i], root, "activeActualConsumption", Lines[i], ref power) ??
                Read(null, null, root, "activeActualProduction", Lines[i], ref back) ??
                Read(fields, BridgeVoltage[i], root, "rmsVoltage", Lines[i], ref voltage) ??
                Read(fields, BridgeCurrent[i], root, "rmsCurrent", Lines[i], ref current);
            if (reason is not null)
            {
                return reason;
            }

            // A zero export alone says nothing about a phase the meter may not have.
            if (power is null && back == 0)
            {
                back = null;
            }

            phases[i] = new Phase(Net(power, back), voltage, current is { } mA ? JsonValues.Scale(mA, MilliampsToAmps) : null);
            reported += phases[i].IsEmpty ? 0 : 1;
            if (voltage is { } v)
            {
                withVoltage++;
                if (v > 0)
                {
                    voltageSum += v;
                    live++;
                }
            }

            if (current is { } c)
            {
                currentMilliamps += c;
                withCurrent++;
            }
        }

        // Like the Shelly Pro 3EM's em:0: voltage is the mean of the phases that have voltage (an
        // unconnected phase reads 0 V), current the sum of the phases' currents, as power is theirs.
        if (live > 0)
        {
            update.Fields.Voltage = JsonValues.RoundNoise(voltageSum / live);
        }
        else if (withVoltage > 0)
        {
            update.Fields.Voltage = 0;
        }

        if (withCurrent > 0)
        {
            update.Fields.Current = JsonValues.Scale(currentMilliamps, MilliampsToAmps);
        }

        // A meter that reports one phase is single-phase: its L1 is the reading itself.
        if (reported > 1)
        {
            update.Phases = new PhaseValues(phases[0], phases[1], phases[2]);
        }

        if (update.Fields.IsEmpty)
        {
            return DecodeReasons.NoReadings;
        }

        updates.Add(update);
        return null;
    }

    private static JsonElement? Bridge(JsonElement root) =>
        root.TryGetProperty("fields", out var fields) && fields.ValueKind == JsonValueKind.Object ? fields : null;

    /// <summary>
    /// Reads the bridge's flat field when the record has it (<paramref name="field"/> null: the bridge
    /// has none), else <c>group.member</c> of the raw payload. Absent or null leaves the value null;
    /// present but not a finite number rejects the record, never falling back to the other.
    /// </summary>
    private static string? Read(JsonElement? fields, string? field, JsonElement root, string group, string member, ref double? value, double scale = 1)
    {
        if (field is not null && fields is { } bridge && bridge.TryGetProperty(field, out var bridged) && bridged.ValueKind != JsonValueKind.Null)
        {
            return JsonValues.Number(bridged, ref value, scale, allowString: false);
        }

        if (!root.TryGetProperty(group, out var raw) || raw.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return raw.ValueKind == JsonValueKind.Object ? JsonValues.Number(raw, member, ref value, scale) : DecodeReasons.BadNumber;
    }

    /// <summary>
    /// Import minus export: the signed power the reading carries (negative = export). A HAN port
    /// reports the two separately and at most one is non-zero at a time.
    /// </summary>
    private static double? Net(double? imported, double? exported) =>
        (imported, exported) switch
        {
            (null, null) => null,
            ({ } i, null) => i,
            (null, { } e) => e == 0 ? 0 : -e, // never -0 on the wire
            ({ } i, { } e) => JsonValues.RoundNoise(i - e),
        };

    /// <summary>The bridge's <c>ts</c> (its clock, RFC 3339 with nanoseconds), else the device's own <c>timestamp</c>.</summary>
    private static string? Timestamp(JsonElement root, ref DateTimeOffset? timestamp)
    {
        if ((root.TryGetProperty("ts", out var ts) && ts.ValueKind != JsonValueKind.Null) ||
            (root.TryGetProperty("timestamp", out ts) && ts.ValueKind != JsonValueKind.Null))
        {
            if (!JsonValues.TryTimestamp(ts, out var t))
            {
                return DecodeReasons.BadTimestamp;
            }

            timestamp = t;
        }

        return null;
    }

    /// <summary>The bridge's <c>tags.device_serial</c>, else the payload's <c>saveeyeDeviceSerialNumber</c>; missing is rejected later.</summary>
    private static string? Device(JsonElement root, ref string? device)
    {
        JsonElement serial = default;
        var found = (root.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Object &&
                tags.TryGetProperty("device_serial", out serial) && serial.ValueKind != JsonValueKind.Null) ||
            (root.TryGetProperty("saveeyeDeviceSerialNumber", out serial) && serial.ValueKind != JsonValueKind.Null);
        if (!found)
        {
            return null;
        }

        if (serial.ValueKind != JsonValueKind.String)
        {
            return DecodeReasons.BadDevice;
        }

        device = serial.GetString();
        return null;
    }
}
