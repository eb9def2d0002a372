namespace EnergyWs.Readings;

/// <summary>
/// One normalized meter reading: the seed's five fields, plus where it came from when known.
/// Fields the meter has never reported are null (and serialized as null). Also what a frame of a
/// json stream is selected, kept and replaced by (see <see cref="Stream"/>).
/// </summary>
internal sealed record Reading
{
    /// <summary>When the meter measured it, UTC, millisecond precision.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Active power in W; negative means export.</summary>
    public double? PowerW { get; init; }

    public double? Voltage { get; init; }

    public double? Current { get; init; }

    /// <summary>Imported energy counter in kWh.</summary>
    public double? EnergyKwh { get; init; }

    /// <summary>Meter id (the Shelly id, or a mapped device tag); null for the bare seed format.</summary>
    public string? Device { get; init; }

    /// <summary>Channel or phase group within the device ("0", "1"); null for single-channel meters.</summary>
    public string? Channel { get; init; }

    /// <summary>Exported energy counter in kWh.</summary>
    public double? EnergyReturnedKwh { get; init; }

    public double? PowerFactor { get; init; }

    public double? FrequencyHz { get; init; }

    /// <summary>Per-phase power, voltage and current of a three-phase meter; null for every other reading.</summary>
    public PhaseValues? Phases { get; init; }

    /// <summary>
    /// The stream's index in the <see cref="StreamCatalog"/>: 0 (energy) for every normalized
    /// reading. A json stream's frame has only this, <see cref="Timestamp"/> and <see cref="Device"/>:
    /// what selection, history and last-value keys need; its JSON is the frame's.
    /// </summary>
    public int Stream { get; init; }
}
