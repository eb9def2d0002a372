namespace EnergyWs.Readings;

/// <summary>
/// Last known fields per device+channel, so every reading is complete although meters send
/// fields in separate messages. Touched by the consumer thread only: no locking.
/// </summary>
/// <remarks>
/// One of three per-meter maps, each with its own job: this one merges fields into readings (full:
/// a new meter's reading carries only its own update); the history's keeps the latest frame for
/// replays and /api/readings/latest, read concurrently; the broadcaster's marks the frame a newer
/// one supersedes. They share only their bound, <see cref="MeterLimits.MaxMeters"/>.
/// </remarks>
internal sealed class MeterState
{
    /// <summary>Readings:MaxDevices when unset; see <see cref="MeterLimits.MaxMeters"/>.</summary>
    public const int DefaultMaxEntries = MeterLimits.MaxMeters;

    /// <summary>Shelly ids are ~25 characters; anything far longer is not a device id.</summary>
    public const int MaxDeviceLength = 128;

    private readonly Dictionary<(string Device, string Channel), MeterFields> _entries = [];
    private readonly int _maxEntries;

    public MeterState(int maxEntries = DefaultMaxEntries) => _maxEntries = maxEntries;

    public int Count => _entries.Count;

    public int MaxEntries => _maxEntries;

    public static bool IsValidId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxDeviceLength)
        {
            return false;
        }

        foreach (var ch in id)
        {
            if (char.IsControl(ch))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Merges <paramref name="update"/> into the device's state and returns the complete fields.
    /// </summary>
    /// <param name="counterWentBackFrom">The previous imported energy when the counter decreased (a meter reset or replacement), else null.</param>
    /// <param name="stored">False when the table is full and this is a new device+channel; its reading then carries only this update.</param>
    public MeterFields Merge(string device, string channel, in MeterFields update, out double? counterWentBackFrom, out bool stored)
    {
        counterWentBackFrom = null;
        var key = (device, channel);
        if (_entries.TryGetValue(key, out var fields))
        {
            if (update.EnergyKwh < fields.EnergyKwh)
            {
                counterWentBackFrom = fields.EnergyKwh;
            }
        }
        else if (_entries.Count >= _maxEntries)
        {
            stored = false;
            return update;
        }

        fields.Apply(update);
        _entries[key] = fields;
        stored = true;
        return fields;
    }
}
