namespace EnergyWs.Readings;

/// <summary>
/// Bounds no real installation this service serves can exceed; a value outside them is a
/// corrupted or hostile record, and one such value would wreck every client's chart.
/// </summary>
internal static class Plausibility
{
    /// <summary>1 MW: far above any household or small commercial meter.</summary>
    public const double MaxAbsPowerW = 1_000_000;

    /// <summary>Mains voltage never leaves 0-1000 V on a low-voltage meter; 0 V is an unconnected phase.</summary>
    public const double MaxVoltage = 1000;

    /// <summary>Returns the rejection reason, or null when the values are believable.</summary>
    public static string? Check(in MeterFields fields)
    {
        if (!Finite(fields.PowerW) || !Finite(fields.Voltage) || !Finite(fields.Current) || !Finite(fields.EnergyKwh) ||
            !Finite(fields.EnergyReturnedKwh) || !Finite(fields.PowerFactor) || !Finite(fields.FrequencyHz))
        {
            return DecodeReasons.NonFinite;
        }

        if (fields.PowerW is { } p && Math.Abs(p) > MaxAbsPowerW)
        {
            return DecodeReasons.ImplausiblePower;
        }

        if (fields.Voltage is { } v && v is < 0 or > MaxVoltage)
        {
            return DecodeReasons.ImplausibleVoltage;
        }

        return null;
    }

    /// <summary>The same bounds for each phase: a phase cannot carry what its meter's total may not.</summary>
    public static string? Check(PhaseValues? phases) =>
        phases is null ? null : Check(phases.L1) ?? Check(phases.L2) ?? Check(phases.L3);

    private static string? Check(in Phase phase) =>
        Check(new MeterFields { PowerW = phase.PowerW, Voltage = phase.Voltage, Current = phase.Current });

    private static bool Finite(double? value) => value is not { } v || double.IsFinite(v);
}
