using System.Buffers;
using System.Net;
using System.Text.Json;
using EnergyWs.Auth;
using EnergyWs.Readings;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming.Protocol;

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
internal abstract class ControlProtocol(TimeProvider time, ILogger logger, ControlMessageLimit limit, ConnectionToken? token = null) : IControlProtocol
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false };

    private bool _limited;

    protected TimeProvider Time { get; } = time;

    /// <param name="token">The connection's credentials, when authentication is on: /ws then answers
    /// <c>refresh</c> (and sends <c>token_expiring</c> to a client that asked for notices).
    /// /ws/energy speaks the original protocol, which has neither.</param>
    /// <param name="named">The /ws client named its streams (<c>?stream=</c>): each frame says which it is of.</param>
    public static ControlProtocol Create(StreamProtocol protocol, ClientSelection selection, StreamCatalog catalog, TimeProvider time, ILogger logger, ControlMessageLimit limit, ConnectionToken? token = null, bool named = false) =>
        protocol == StreamProtocol.EnergyCompat
            ? new EnergyCompatProtocol(selection, catalog, time, logger, limit)
            : new ReadingsControlProtocol(catalog, time, logger, limit, token, named);

    /// <summary>Sends <c>token_expiring</c> when due, to a client that asked for notices; nothing otherwise.</summary>
    public void Sweep(ClientConnection connection, DateTimeOffset utcNow)
    {
        if (token is { Notices: true })
        {
            SendExpiryNotice(connection, utcNow);
        }
    }

    /// <summary>The frame's own JSON, unless the protocol wraps readings.</summary>
    public virtual ReadOnlyMemory<byte> Format(ReadingFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return frame.Utf8Json;
    }

    public ValueTask HandleAsync(ClientConnection connection, ReadOnlyMemory<byte> message)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (_limited)
        {
            // Already told and closing; the rest of the flood is read and dropped.
            return ValueTask.CompletedTask;
        }

        if (!limit.TryTake())
        {
            _limited = true;
            Log.RateLimited(logger, connection.Remote, limit.Rate);
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

        if (parsed.Type == "refresh" && token is not null)
        {
            // Awaited by the reader: the connection's next message waits for the outcome, so
            // refreshes cannot overlap and the rate limit above counts each one.
            return RefreshAsync(connection, token, parsed.Token);
        }

        connection.Send(Handle(connection, parsed));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Validates a new token by the upgrade's rules; a valid one for the same principal moves the
    /// connection's expiry, anything else leaves it where it was.
    /// </summary>
    private async ValueTask RefreshAsync(ClientConnection connection, ConnectionToken current, string? newToken)
    {
        var (session, refusal) = await current.Validator.ValidateAsync(newToken, current.Client, current.Aborted);
        if (session is not null && !string.Equals(session.Principal, current.Session.Principal, StringComparison.Ordinal))
        {
            // A connection belongs to one principal for its lifetime: what it was allowed to see
            // was decided for that one.
            (session, refusal) = (null, "the token names another principal");
        }

        if (session is null)
        {
            Log.TokenRefreshRefused(logger, connection.Remote, refusal, current.Session.ExpiresAt);
            connection.Send(Error(ErrorCodes.InvalidToken, "The token was refused; the connection keeps its current expiry."));
            return;
        }

        current.Session = session;
        connection.ExpiresAt = session.ClosesAt;
        Log.TokenRefreshed(logger, connection.Remote, session.ExpiresAt);
        connection.Send(Render(w =>
        {
            w.WriteString("type"u8, "refreshed"u8);
            w.WriteString("expires_at"u8, ReadingJson.FormatTimestamp(session.ExpiresAt));
        }));
    }

    /// <summary>From the sweeper: {"type":"token_expiring","expires_at":…} once per token, Auth:RefreshNotice before it expires.</summary>
    private void SendExpiryNotice(ClientConnection connection, DateTimeOffset utcNow)
    {
        if (token!.TakeNotice(utcNow) is { } expiresAt)
        {
            connection.Send(Render(w =>
            {
                w.WriteString("type"u8, "token_expiring"u8);
                w.WriteString("expires_at"u8, ReadingJson.FormatTimestamp(expiresAt));
            }));
        }
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

    /// <summary>
    /// The bits of the named streams, each known and readable by this connection; otherwise the
    /// error reply (<c>unknown_stream</c>, <c>forbidden_stream</c>) for the first that is not.
    /// </summary>
    protected bool TryStreams(StreamCatalog catalog, ClientConnection connection, List<string>? names, out ulong bits, out byte[]? error)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(connection);
        bits = 0;
        error = null;
        if (names is not { Count: > 0 })
        {
            error = Error(ErrorCodes.InvalidMessage, "'streams' must name at least one stream, e.g. [\"energy\"].");
            return false;
        }

        foreach (var name in names)
        {
            if (!catalog.TryGetByName(name, out var stream))
            {
                error = Error(ErrorCodes.UnknownStream, $"Unknown stream; the streams are {string.Join(", ", catalog.Streams.Select(s => s.Name))}.");
                return false;
            }

            if ((connection.Readable & stream.Bit) == 0)
            {
                error = Error(ErrorCodes.ForbiddenStream, $"This token may not read stream {stream.Name}: it lacks the scope {stream.Scope}.");
                return false;
            }

            bits |= stream.Bit;
        }

        return true;
    }

    protected static void WriteStreams(Utf8JsonWriter writer, StreamCatalog catalog, ulong bits)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(catalog);
        writer.WriteStartArray("streams"u8);
        foreach (var stream in catalog.Streams)
        {
            if ((bits & stream.Bit) != 0)
            {
                writer.WriteStringValue(stream.Name);
            }
        }

        writer.WriteEndArray();
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
/// /ws control messages. <c>subscribe</c> adds the named streams, devices and channels to the
/// selection (from "all", devices and channels narrow to exactly the named ones; an explicit null
/// returns that dimension to "all"); <c>unsubscribe</c> removes them. Both answer with the
/// resulting selection.
/// </summary>
internal sealed class ReadingsControlProtocol(StreamCatalog catalog, TimeProvider time, ILogger logger, ControlMessageLimit limit, ConnectionToken? token, bool named = false) : ControlProtocol(time, logger, limit, token)
{
    // Set by the reader task (a subscribe naming streams), read by the writer for every frame.
    private volatile bool _named = named;

    /// <summary>The seed's format on plain /ws; with <c>"stream"</c> first for a client that named streams.</summary>
    public override ReadOnlyMemory<byte> Format(ReadingFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return _named ? frame.Named : frame.Utf8Json;
    }

    protected override byte[] Handle(ClientConnection connection, ControlMessage message)
    {
        var subscribe = message.Type == "subscribe";
        if (!subscribe && message.Type != "unsubscribe")
        {
            return Error(ErrorCodes.UnknownType, $"Unknown message type; expected ping, subscribe, unsubscribe or refresh.");
        }

        if (!message.HasDevices && !message.HasChannels && !message.HasStreams)
        {
            return Error(ErrorCodes.InvalidMessage, "Name 'streams', 'devices' and/or 'channels'.");
        }

        var current = connection.Selection;
        var streams = current.Streams;
        if (message.HasStreams)
        {
            if (!TryStreams(catalog, connection, message.Streams, out var bits, out var refusal))
            {
                return refusal!;
            }

            streams = subscribe ? streams | bits : streams & ~bits;
        }

        IReadOnlySet<string>? devices = current.Devices, channels = current.Channels;
        if (message.HasDevices && !TryApply(subscribe, current.Devices, message.Devices, "devices", out devices, out var error) ||
            message.HasChannels && !TryApply(subscribe, current.Channels, message.Channels, "channels", out channels, out error))
        {
            return Error(subscribe ? ErrorCodes.TooManyValues : ErrorCodes.InvalidMessage, error!);
        }

        if (message.HasStreams)
        {
            // A client that chooses streams reads frames that say which they are of, from now on
            // (set before the selection, so the first frame of a new stream is named).
            _named = true;
        }

        var selection = devices is null && channels is null && streams == ClientSelection.EnergyStream
            ? ClientSelection.All
            : new ClientSelection(devices, channels, streams);
        connection.Selection = selection;
        return Render(w =>
        {
            w.WriteString("type"u8, "subscribed"u8);
            if (_named)
            {
                WriteStreams(w, catalog, selection.Streams);
            }

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

/// <summary>
/// One connection's credentials for in-band refresh: the session it holds now and whether the
/// client asked for expiry notices. The reader task replaces the session; the sweeper reads it.
/// </summary>
/// <param name="client">The connection's address, for the per-address introspection limit.</param>
/// <param name="aborted">Fires when the connection goes away (the upgrade request's RequestAborted).</param>
internal sealed class ConnectionToken(TokenRevalidator validator, TokenSession session, bool notices, TimeSpan noticeLead, IPAddress? client, CancellationToken aborted)
{
    private volatile TokenSession _session = session;

    // UTC ticks of the expiry the last token_expiring was sent for: one notice per token.
    private long _noticedFor;

    public TokenRevalidator Validator => validator;

    public IPAddress? Client => client;

    public CancellationToken Aborted => aborted;

    public bool Notices => notices;

    public TokenSession Session
    {
        get => _session;
        set => _session = value;
    }

    /// <summary>The expiry to announce, when it is within the notice lead and not yet announced; otherwise null.</summary>
    public DateTimeOffset? TakeNotice(DateTimeOffset utcNow)
    {
        var session = _session;
        if (!notices || utcNow < session.ExpiresAt - noticeLead)
        {
            return null;
        }

        var ticks = session.ExpiresAt.UtcTicks;
        return Interlocked.Exchange(ref _noticedFor, ticks) == ticks ? null : session.ExpiresAt;
    }
}
