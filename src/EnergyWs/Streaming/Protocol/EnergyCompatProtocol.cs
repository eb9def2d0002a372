using System.Text;
using EnergyWs.Readings;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming.Protocol;

/// <summary>
/// /ws/energy: the original energy-ws protocol, so its React and iOS clients switch over unchanged.
/// Readings go out as <c>{"type":"data","stream":"&lt;name&gt;","timestamp":…,"data":{…}}</c>, where
/// <c>data</c> is the record's own JSON object, as the original sent it; the client's
/// <c>subscribe</c>/<c>unsubscribe</c> of streams and <c>ping</c> are answered.
/// </summary>
/// <remarks>
/// The original broadcast every reading to every connected client and parsed <c>subscribe</c>
/// without acting on it, so clients that never subscribe still expect data: this route streams
/// the energy stream from connect; <c>subscribe</c> adds streams, <c>unsubscribe</c> removes them
/// (all of them pauses the connection). Control messages are accepted as text or binary frames
/// (the iOS client sends binary).
/// </remarks>
internal sealed class EnergyCompatProtocol(ClientSelection selection, StreamCatalog catalog, TimeProvider time, ILogger logger, ControlMessageLimit limit) : ControlProtocol(time, logger, limit)
{
    private static readonly byte[] Type = "{\"type\":\"data\","u8.ToArray();
    private static readonly byte[] Timestamp = "\"timestamp\":\""u8.ToArray();
    private static readonly byte[] Middle = "\",\"data\":"u8.ToArray();

    // Rendering is cached on the frame, so each reading is wrapped once for all /ws/energy clients.
    // One delegate per connection, not per call: Format runs per frame on every client's writer.
    private readonly Func<ReadingFrame, byte[]> _envelope = frame => RenderEnvelope(frame, catalog);

    public override ReadOnlyMemory<byte> Format(ReadingFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return frame.GetAlternate(_envelope);
    }

    /// <summary>
    /// The envelope around the record's own object (the original's <c>data</c>; its clients read
    /// <c>data.activeActualConsumption.total</c> or <c>data.fields.active_power_total</c>), or
    /// around the frame's JSON once the record is no longer held or was not an object. The
    /// timestamp is the reading's.
    /// </summary>
    internal static byte[] RenderEnvelope(ReadingFrame frame, StreamCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(catalog);
        // "stream":"<name>", : the stream's named prefix without its brace.
        var stream = catalog.Streams[frame.Reading.Stream].NamedPrefix.Span[1..];
        var timestamp = ReadingJson.FormatTimestamp(frame.Reading.Timestamp);
        var record = frame.Record;
        var json = record.IsEmpty ? frame.Utf8Json.Span : record.Span;
        var result = new byte[Type.Length + stream.Length + Timestamp.Length + timestamp.Length + Middle.Length + json.Length + 1];
        var span = result.AsSpan();
        Type.CopyTo(span);
        var at = Type.Length;
        stream.CopyTo(span[at..]);
        at += stream.Length;
        Timestamp.CopyTo(span[at..]);
        at += Timestamp.Length;
        at += Encoding.ASCII.GetBytes(timestamp, span[at..]);
        Middle.CopyTo(span[at..]);
        at += Middle.Length;
        json.CopyTo(span[at..]);
        span[^1] = (byte)'}';
        return result;
    }

    protected override byte[] Handle(ClientConnection connection, ControlMessage message)
    {
        var subscribe = message.Type == "subscribe";
        if (!subscribe && message.Type != "unsubscribe")
        {
            return Error(ErrorCodes.UnknownType, "Unknown message type; expected ping, subscribe or unsubscribe.");
        }

        if (!TryStreams(catalog, connection, message.Streams, out var bits, out var refusal))
        {
            return refusal!;
        }

        // The devices and channels from the query string are kept; the streams follow the messages.
        var current = connection.Selection.Streams;
        connection.Selection = new ClientSelection(selection.Devices, selection.Channels, subscribe ? current | bits : current & ~bits);
        return Render(w =>
        {
            w.WriteString("type"u8, subscribe ? "subscribed"u8 : "unsubscribed"u8);
            WriteStreams(w, catalog, bits);
        });
    }

    /// <summary>The original's error shape: {"type":"error","message":…,"code":…}.</summary>
    protected override byte[] Error(string code, string message) => Render(w =>
    {
        w.WriteString("type"u8, "error"u8);
        w.WriteString("message"u8, message);
        w.WriteString("code"u8, code);
    });
}
