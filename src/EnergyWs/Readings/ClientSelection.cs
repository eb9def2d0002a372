using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EnergyWs.Readings;

/// <summary>
/// Which readings a client wants: devices and channels, each null for "all". Immutable, so a
/// subscription change swaps the whole object and the broadcaster never sees a half-updated one.
/// </summary>
internal sealed class ClientSelection(IReadOnlySet<string>? devices, IReadOnlySet<string>? channels)
{
    /// <summary>Bounds on what a client may put in the query string.</summary>
    internal const int MaxFilterValues = 64;
    internal const int MaxFilterLength = 128;

    public static ClientSelection All { get; } = new(null, null);

    public IReadOnlySet<string>? Devices { get; } = devices;

    public IReadOnlySet<string>? Channels { get; } = channels;

    public bool IsAll => Devices is null && Channels is null;

    public bool Accepts(Reading reading) =>
        (Devices is null || (reading.Device is { } d && Devices.Contains(d))) &&
        (Channels is null || (reading.Channel is { } c && Channels.Contains(c)));

    /// <summary>?device=a&amp;device=b&amp;channel=0 — repeatable; absent means everything.</summary>
    public static bool TryParse(IQueryCollection query, out ClientSelection selection, out string? error)
    {
        selection = ClientSelection.All;
        error = null;
        if (!TryParseSet(query["device"], "device", out var devices, out error) ||
            !TryParseSet(query["channel"], "channel", out var channels, out error))
        {
            return false;
        }

        if (devices is not null || channels is not null)
        {
            selection = new ClientSelection(devices, channels);
        }

        return true;
    }

    private static bool TryParseSet(StringValues values, string name, out HashSet<string>? set, out string? error)
    {
        set = null;
        error = null;
        if (values.Count == 0)
        {
            return true;
        }

        if (values.Count > MaxFilterValues)
        {
            error = $"At most {MaxFilterValues} '{name}' values are allowed.";
            return false;
        }

        set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in values)
        {
            // Commas are accepted too: ?device=a,b
            foreach (var value in (raw ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (value.Length > MaxFilterLength)
                {
                    error = $"A '{name}' value may be at most {MaxFilterLength} characters.";
                    return false;
                }

                set.Add(value);
            }
        }

        if (set.Count > MaxFilterValues)
        {
            error = $"At most {MaxFilterValues} '{name}' values are allowed.";
            return false;
        }

        if (set.Count == 0)
        {
            set = null;
        }

        return true;
    }
}
