namespace EnergyWs.Readings;

/// <summary>
/// Last known fields per device+channel, so every reading is complete although meters send
/// fields in separate messages. Touched by the consumer thread only: no locking.
/// </summary>
internal sealed class MeterState
{
    /// <summary>
    /// Bounds memory against a stream of made-up device ids: a site has tens of meters, and 10,000
    /// entries of ~150 bytes is ~1.5 MB.
    /// </summary>
    public const int DefaultMaxEntries = 10_000;

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
