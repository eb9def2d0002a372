namespace EnergyWs.Readings;

/// <summary>The bound shared by everything this service keeps per meter (device + channel).</summary>
internal static class MeterLimits
{
    /// <summary>
    /// Meters remembered by each per-meter map: the decoder's last known fields (the default of
    /// Readings:MaxDevices), the history's latest frame per meter, the broadcaster's newest frame
    /// per meter. A site has tens of meters; the bound is against a producer inventing device ids,
    /// and keeps each map to ~1.5 MB (about 150 bytes an entry). One figure, so (unless
    /// Readings:MaxDevices is raised) a meter the decoder tracks is one the other maps remember.
    /// </summary>
    public const int MaxMeters = 10_000;
}
