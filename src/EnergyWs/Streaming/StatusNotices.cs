using System.Buffers;
using System.Text.Json;
using EnergyWs.Freshness;
using EnergyWs.Readings;
using Microsoft.Extensions.Hosting;

namespace EnergyWs.Streaming;

/// <summary>
/// <c>{"type":"status","stream":…,"device":…,"state":"stale"|"live","last":…}</c> to the /ws clients
/// that asked for notices (<c>?notices=1</c>) and read that stream (and device): on each change the
/// freshness check sees, and on connect for whatever is stale then.
/// </summary>
/// <remarks>
/// Changes are rare (a meter stops, a meter comes back), so the fan-out walks the connection list
/// and renders each change once for all of its recipients; nothing of this touches a reading's path.
/// </remarks>
internal sealed class StatusNotices(FreshnessTracker tracker, Broadcaster broadcaster, StreamCatalog catalog) : IHostedService
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false };

    // A new client's "what is stale now" and a change's fan-out do not interleave, so a client
    // never gets "stale" after the "live" that ended it. A client may get a "live" it had no
    // "stale" for (it connected between the check's decision and its fan-out).
    private readonly Lock _sending = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        tracker.Changed += OnChanged;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        tracker.Changed -= OnChanged;
        return Task.CompletedTask;
    }

    /// <summary>What is stale now, for a client that has just connected with notices; called before it runs.</summary>
    public void SendCurrent(ClientConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var _ = _sending.EnterScope();
        foreach (var stream in tracker.Snapshot())
        {
            if (!catalog.TryGetByName(stream.Stream, out var definition) || !Reads(connection.Selection, definition, device: null))
            {
                continue;
            }

            if (stream.Stale)
            {
                connection.Send(Render(stream.Stream, device: null, stale: true, stream.LastRecord));
            }

            foreach (var device in stream.Devices)
            {
                if (device.Stale && Reads(connection.Selection, definition, device.Device))
                {
                    connection.Send(Render(stream.Stream, device.Device, stale: true, device.LastRecord));
                }
            }
        }
    }

    /// <summary>On the freshness check's thread; <see cref="ClientConnection.Send"/> never blocks.</summary>
    private void OnChanged(FreshnessChange change)
    {
        if (!catalog.TryGetByName(change.Stream, out var definition))
        {
            return;
        }

        byte[]? message = null;
        using var _ = _sending.EnterScope();
        foreach (var connection in broadcaster.Snapshot())
        {
            if (connection.Notices && !connection.IsClosing && Reads(connection.Selection, definition, change.Device))
            {
                connection.Send(message ??= Render(change.Stream, change.Device, change.Stale, change.LastRecord));
            }
        }
    }

    /// <summary>The stream is selected, and so is the device, when the change is about one and the client filters devices.</summary>
    private static bool Reads(ClientSelection selection, StreamDefinition stream, string? device) =>
        (selection.Streams & stream.Bit) != 0 &&
        (device is null || selection.Devices is null || selection.Devices.Contains(device));

    internal static byte[] Render(string stream, string? device, bool stale, DateTimeOffset? last)
    {
        var buffer = new ArrayBufferWriter<byte>(160);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "status"u8);
            writer.WriteString("stream"u8, stream);
            if (device is null)
            {
                writer.WriteNull("device"u8);
            }
            else
            {
                writer.WriteString("device"u8, device);
            }

            writer.WriteString("state"u8, stale ? "stale"u8 : "live"u8);
            if (last is { } at)
            {
                writer.WriteString("last"u8, ReadingJson.FormatTimestamp(at));
            }
            else
            {
                writer.WriteNull("last"u8);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
