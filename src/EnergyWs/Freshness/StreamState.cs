namespace EnergyWs.Freshness;

/// <summary>One stream as of the tracker's last check.</summary>
/// <param name="LastRecord">When its last record arrived (by this service's clock); null if none since start.</param>
/// <param name="Stale">No record for longer than <paramref name="StaleAfter"/>, as of the last check.</param>
/// <param name="Devices">Its devices, by id, at most <see cref="FreshnessTracker.MaxDevicesPerStream"/>.</param>
internal sealed record StreamState(string Stream, TimeSpan StaleAfter, DateTimeOffset? LastRecord, bool Stale, IReadOnlyList<DeviceState> Devices);

/// <summary>One device of a stream as of the tracker's last check.</summary>
internal sealed record DeviceState(string Device, DateTimeOffset LastRecord, bool Stale);

/// <summary>A stream, or one device of it (<paramref name="Device"/> set), turned stale or live again.</summary>
/// <param name="LastRecord">The last record's arrival when the change was seen; null for a stream that had none.</param>
/// <param name="At">When the check saw the change.</param>
internal sealed record FreshnessChange(string Stream, string? Device, bool Stale, DateTimeOffset? LastRecord, DateTimeOffset At);
