using EnergyWs.Readings;

namespace EnergyWs.Streaming;

/// <summary>
/// Which readings a client wants: devices and channels, each null for "all". Immutable, so a
/// subscription change swaps the whole object and the broadcaster never sees a half-updated one.
/// </summary>
internal sealed class ClientSelection(IReadOnlySet<string>? devices, IReadOnlySet<string>? channels)
{
    public static ClientSelection All { get; } = new(null, null);

    public IReadOnlySet<string>? Devices { get; } = devices;

    public IReadOnlySet<string>? Channels { get; } = channels;

    public bool IsAll => Devices is null && Channels is null;

    public bool Accepts(Reading reading) =>
        (Devices is null || (reading.Device is { } d && Devices.Contains(d))) &&
        (Channels is null || (reading.Channel is { } c && Channels.Contains(c)));
}
