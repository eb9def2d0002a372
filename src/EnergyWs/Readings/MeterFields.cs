namespace EnergyWs.Readings;

/// <summary>
/// The measured values of one device+channel, all optional: meters report them in separate
/// messages, so an update carries only some and the state fills in the rest.
/// </summary>
internal struct MeterFields
{
    public double? PowerW;
    public double? Voltage;
    public double? Current;
    public double? EnergyKwh;
    public double? EnergyReturnedKwh;
    public double? PowerFactor;
    public double? FrequencyHz;

    public readonly bool IsEmpty =>
        PowerW is null && Voltage is null && Current is null && EnergyKwh is null &&
        EnergyReturnedKwh is null && PowerFactor is null && FrequencyHz is null;

    /// <summary>Overwrites the fields <paramref name="update"/> carries; keeps the others.</summary>
    public void Apply(in MeterFields update)
    {
        PowerW = update.PowerW ?? PowerW;
        Voltage = update.Voltage ?? Voltage;
        Current = update.Current ?? Current;
        EnergyKwh = update.EnergyKwh ?? EnergyKwh;
        EnergyReturnedKwh = update.EnergyReturnedKwh ?? EnergyReturnedKwh;
        PowerFactor = update.PowerFactor ?? PowerFactor;
        FrequencyHz = update.FrequencyHz ?? FrequencyHz;
    }
}

/// <summary>
/// What a format decoder found for one device+channel in one record. <see cref="Complete"/>
/// updates (the seed format) stand alone and bypass the per-device state.
/// </summary>
internal struct MeterUpdate
{
    public string? Device;
    public string? Channel;
    public DateTimeOffset? Timestamp;
    public MeterFields Fields;

    /// <summary>Per-phase values; they go into the reading as they are, bypassing the per-device state.</summary>
    public PhaseValues? Phases;
    public bool Complete;
}
