using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EnergyWs.Readings;

/// <summary>
/// Which readings a client wants: its streams (a bit per stream of the <see cref="StreamCatalog"/>;
/// the energy stream alone unless it named others), and within them devices and channels, each
/// null for "all". Immutable, so a subscription change swaps the whole object and the broadcaster
/// never sees a half-updated one.
/// </summary>
internal sealed class ClientSelection(IReadOnlySet<string>? devices, IReadOnlySet<string>? channels, ulong streams = ClientSelection.EnergyStream)
{
    /// <summary>The energy stream's bit: what plain <c>/ws</c> and <c>/api/readings</c> serve.</summary>
    public const ulong EnergyStream = 1;

    /// <summary>Bounds on what a client may put in the query string.</summary>
    internal const int MaxFilterValues = 64;
    internal const int MaxFilterLength = 128;

    /// <summary>Every device and channel of the energy stream.</summary>
    public static ClientSelection All { get; } = new(null, null);

    public IReadOnlySet<string>? Devices { get; } = devices;

    public IReadOnlySet<string>? Channels { get; } = channels;

    /// <summary>A bit per stream (<see cref="StreamDefinition.Bit"/>).</summary>
    public ulong Streams { get; } = streams;

    public bool Accepts(Reading reading) =>
        (Streams & (1UL << reading.Stream)) != 0 &&
        (Devices is null || (reading.Device is { } d && Devices.Contains(d))) &&
        (Channels is null || (reading.Channel is { } c && Channels.Contains(c)));

    /// <summary>
    /// ?stream=heatpump&amp;device=a&amp;device=b&amp;channel=0 — each repeatable, or comma-separated;
    /// absent means every device and channel of the energy stream. <paramref name="named"/> is true
    /// when the client named streams: its frames then say which stream they are of.
    /// </summary>
    public static bool TryParse(IQueryCollection query, StreamCatalog catalog, out ClientSelection selection, out bool named, out string? error)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(catalog);
        selection = ClientSelection.All;
        named = false;
        if (!TryParseSet(query["device"], "device", out var devices, out error) ||
            !TryParseSet(query["channel"], "channel", out var channels, out error) ||
            !TryParseSet(query["stream"], "stream", out var names, out error))
        {
            return false;
        }

        var streams = EnergyStream;
        if (names is not null)
        {
            streams = 0;
            foreach (var name in names)
            {
                if (!catalog.TryGetByName(name, out var stream))
                {
                    error = $"Unknown stream '{name}'; this server has {string.Join(", ", catalog.Streams.Select(s => s.Name))}.";
                    return false;
                }

                streams |= stream.Bit;
            }

            named = true;
        }

        if (devices is not null || channels is not null || streams != EnergyStream)
        {
            selection = new ClientSelection(devices, channels, streams);
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
