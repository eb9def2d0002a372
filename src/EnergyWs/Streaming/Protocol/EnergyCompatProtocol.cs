using System.Collections.Frozen;
using System.Text;
using EnergyWs.Readings;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming.Protocol;

/// <summary>
/// /ws/energy: the original energy-ws protocol, so its React and iOS clients switch over unchanged.
/// Readings go out as <c>{"type":"data","stream":"energy","timestamp":…,"data":{…}}</c>; the
/// client's <c>subscribe</c>/<c>unsubscribe</c> of the "energy" stream and <c>ping</c> are answered.
/// </summary>
/// <remarks>
/// The original broadcast every reading to every connected client and parsed <c>subscribe</c>
/// without acting on it, so clients that never subscribe still expect data: this route streams
/// from connect, <c>unsubscribe</c> pauses the stream and <c>subscribe</c> resumes it.
/// Control messages are accepted as text or binary frames (the iOS client sends binary).
/// </remarks>
internal sealed class EnergyCompatProtocol(ClientSelection selection, TimeProvider time, ILogger logger, ControlMessageLimit limit) : ControlProtocol(time, logger, limit)
{
    public const string Stream = "energy";

    private static readonly ClientSelection Nothing = new(FrozenSet<string>.Empty, null);
    private static readonly byte[] Prefix = "{\"type\":\"data\",\"stream\":\"energy\",\"timestamp\":\""u8.ToArray();
    private static readonly byte[] Middle = "\",\"data\":"u8.ToArray();

    // Rendering is cached on the frame, so each reading is wrapped once for all /ws/energy clients.
    // One delegate for all calls: Format runs per frame on every client's writer.
    private static readonly Func<ReadingFrame, byte[]> Envelope = RenderEnvelope;

    public override ReadOnlyMemory<byte> Format(ReadingFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return frame.GetAlternate(Envelope);
    }

    /// <summary>The envelope around the frame's own JSON bytes; the timestamp is the reading's.</summary>
    internal static byte[] RenderEnvelope(ReadingFrame frame)
    {
        var timestamp = ReadingJson.FormatTimestamp(frame.Reading.Timestamp);
        var json = frame.Utf8Json.Span;
        var result = new byte[Prefix.Length + timestamp.Length + Middle.Length + json.Length + 1];
        var span = result.AsSpan();
        Prefix.CopyTo(span);
        var at = Prefix.Length;
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

        if (message.Streams is not { Count: > 0 } streams)
        {
            return Error(ErrorCodes.InvalidMessage, "Name the 'streams', e.g. [\"energy\"].");
        }

        if (!streams.Contains(Stream, StringComparer.Ordinal))
        {
            return Error(ErrorCodes.UnknownStream, "The only stream is \"energy\".");
        }

        // The selection from the query string is kept; unsubscribe selects nothing until subscribe restores it.
        connection.Selection = subscribe ? selection : Nothing;
        return Render(w =>
        {
            w.WriteString("type"u8, subscribe ? "subscribed"u8 : "unsubscribed"u8);
            w.WriteStartArray("streams"u8);
            w.WriteStringValue(Stream);
            w.WriteEndArray();
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
