using System.Buffers;
using System.Text.Json;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Protocol;

/// <summary>Which protocol a WebSocket route speaks.</summary>
internal enum StreamProtocol
{
    /// <summary>/ws: bare reading objects; control messages change the device/channel selection.</summary>
    Readings,

    /// <summary>/ws/energy: the original service's envelope protocol, for its existing clients.</summary>
    EnergyCompat,
}

/// <summary>
/// One connection's side of the control protocol: answers its messages and rate-limits them.
/// Runs on the connection's reader task only, so its state needs no locking.
/// </summary>
internal abstract class ControlProtocol(TimeProvider time, ILogger logger)
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false };

    private TokenBucket _bucket = new(time);
    private bool _limited;

    protected TimeProvider Time { get; } = time;

    public static ControlProtocol Create(StreamProtocol protocol, ClientSelection selection, TimeProvider time, ILogger logger) =>
        protocol == StreamProtocol.EnergyCompat
            ? new EnergyCompatProtocol(selection, time, logger)
            : new ReadingsControlProtocol(time, logger);

    /// <summary>How this protocol renders a reading; null sends the frame's own JSON.</summary>
    public virtual Func<ReadingFrame, ReadOnlyMemory<byte>>? Format => null;

    /// <summary>The <see cref="ClientConnection.OnMessage"/> hook.</summary>
    public ValueTask HandleAsync(ClientConnection connection, ReadOnlyMemory<byte> message)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (_limited)
        {
            // Already told and closing; the rest of the flood is read and dropped.
            return ValueTask.CompletedTask;
        }

        if (!_bucket.TryTake())
        {
            _limited = true;
            Log.RateLimited(logger, connection.Remote, TokenBucket.Rate);
            connection.SendThenClose(Error(ErrorCodes.RateLimited, "Too many control messages; closing."), CloseReason.RateLimited);
            return ValueTask.CompletedTask;
        }

        if (!ControlMessage.TryParse(message.Span, out var parsed, out var code, out var error))
        {
            connection.Send(Error(code, error));
            return ValueTask.CompletedTask;
        }

        if (parsed.Type == "ping")
        {
            connection.Send(Render(w =>
            {
                w.WriteString("type"u8, "pong"u8);
                w.WriteString("timestamp"u8, ReadingJson.FormatTimestamp(Time.GetUtcNow()));
            }));
            return ValueTask.CompletedTask;
        }

        connection.Send(Handle(connection, parsed));
        return ValueTask.CompletedTask;
    }

    /// <summary>Handles a parsed message other than ping; returns the reply.</summary>
    protected abstract byte[] Handle(ClientConnection connection, ControlMessage message);

    /// <summary>{"type":"error","code":…,"message":…}; the compatibility protocol orders message first.</summary>
    protected virtual byte[] Error(string code, string message) => Render(w =>
    {
        w.WriteString("type"u8, "error"u8);
        w.WriteString("code"u8, code);
        w.WriteString("message"u8, message);
    });

    protected static byte[] Render(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    protected static void WriteList(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IEnumerable<string>? values)
    {
        if (values is null)
        {
            writer.WriteNull(name);
            return;
        }

        writer.WriteStartArray(name);
        foreach (var value in values.Order(StringComparer.Ordinal))
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }
}

/// <summary>
/// /ws control messages. <c>subscribe</c> adds the named devices/channels to the selection (from
/// "all", it narrows to exactly them; an explicit null returns that dimension to "all");
/// <c>unsubscribe</c> removes them. Both answer with the resulting selection.
/// </summary>
internal sealed class ReadingsControlProtocol(TimeProvider time, ILogger logger) : ControlProtocol(time, logger)
{
    protected override byte[] Handle(ClientConnection connection, ControlMessage message)
    {
        var subscribe = message.Type == "subscribe";
        if (!subscribe && message.Type != "unsubscribe")
        {
            return Error(ErrorCodes.UnknownType, $"Unknown message type; expected ping, subscribe or unsubscribe.");
        }

        if (!message.HasDevices && !message.HasChannels)
        {
            return Error(ErrorCodes.InvalidMessage, "Name 'devices' and/or 'channels'.");
        }

        var current = connection.Selection;
        IReadOnlySet<string>? devices = current.Devices, channels = current.Channels;
        if (message.HasDevices && !TryApply(subscribe, current.Devices, message.Devices, "devices", out devices, out var error) ||
            message.HasChannels && !TryApply(subscribe, current.Channels, message.Channels, "channels", out channels, out error))
        {
            return Error(subscribe ? ErrorCodes.TooManyValues : ErrorCodes.InvalidMessage, error!);
        }

        var selection = devices is null && channels is null ? ClientSelection.All : new ClientSelection(devices, channels);
        connection.Selection = selection;
        return Render(w =>
        {
            w.WriteString("type"u8, "subscribed"u8);
            WriteList(w, "devices"u8, selection.Devices);
            WriteList(w, "channels"u8, selection.Channels);
        });
    }

    private static bool TryApply(bool subscribe, IReadOnlySet<string>? current, List<string>? named, string name, out IReadOnlySet<string>? result, out string? error)
    {
        error = null;
        result = current;
        if (subscribe)
        {
            if (named is null)
            {
                result = null;
                return true;
            }

            var set = current is null ? new HashSet<string>(StringComparer.Ordinal) : new HashSet<string>(current, StringComparer.Ordinal);
            set.UnionWith(named);
            if (set.Count > WebSocketEndpoint.MaxFilterValues)
            {
                error = $"At most {WebSocketEndpoint.MaxFilterValues} '{name}' values can be selected.";
                return false;
            }

            result = set;
            return true;
        }

        if (named is null)
        {
            error = $"Unsubscribe needs a list of '{name}'.";
            return false;
        }

        if (current is null)
        {
            // "All but these" is not a selection this server keeps; subscribe to a list first.
            error = $"Not subscribed to a list of '{name}' (all are selected); subscribe to the ones wanted instead.";
            return false;
        }

        var remaining = new HashSet<string>(current, StringComparer.Ordinal);
        remaining.ExceptWith(named);
        result = remaining;
        return true;
    }
}
