namespace EnergyWs.Readings;

/// <summary>What one phase (line) of a polyphase meter measures on its own.</summary>
internal readonly record struct Phase(double? PowerW, double? Voltage, double? Current)
{
    public bool IsEmpty => PowerW is null && Voltage is null && Current is null;
}

/// <summary>
/// The per-phase values of a three-phase meter, beside the reading's totals. A reference, so
/// readings of other meters pay one null field and no allocation; the values are the record's
/// own, never carried over from an earlier record, so a phase a record lacks is simply absent.
/// </summary>
internal sealed record PhaseValues(Phase L1, Phase L2, Phase L3);
