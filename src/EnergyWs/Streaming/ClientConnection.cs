using System.Net.WebSockets;
using EnergyWs.Readings;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming;

/// <summary>
/// One WebSocket client: its <see cref="ConnectionWriter"/> (the only sender of data frames), its
/// <see cref="ConnectionReader"/> (the only receiver), and the lifecycle around them: why it
/// closes, the close handshake, and the sweeper's checks.
/// </summary>
/// <remarks>
/// Invariants: only <see cref="RunAsync"/> sends the close frame, once the writer has stopped; the
/// first close reason asked for (by writer, reader, sweeper or shutdown) is the one sent. A client
/// whose socket accepts nothing for <see cref="StreamingOptions.SlowClientTimeout"/>, or whose replay
/// outlives its deadline, is closed with 1008; one whose credentials expired, with 4401.
/// </remarks>
internal sealed class ClientConnection
{
    private readonly WebSocket _socket;
    private readonly WebSocketTransport _transport;
    private readonly CloseRequest _close;
    private readonly ConnectionReader _reader;
    private readonly IControlProtocol? _protocol;
    private readonly StreamingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private ClientSelection _selection;
    private long _expiresAtTicks;

    /// <param name="protocol">Answers the client's messages and renders its readings; null ignores messages and sends each frame's own JSON.</param>
    /// <param name="readerFailures">Throttles the error logged when handling a message fails; the endpoint
    /// shares one across all its connections, since a hostile message pattern could hit every connection
    /// at once. Null: one for this connection.</param>
    public ClientConnection(
        WebSocket socket,
        WebSocketTransport transport,
        ClientSelection selection,
        string remote,
        StreamingOptions options,
        StreamingMetrics metrics,
        TimeProvider time,
        ILogger logger,
        IControlProtocol? protocol = null,
        LogThrottle? readerFailures = null)
    {
        _socket = socket;
        _transport = transport;
        _selection = selection;
        Remote = remote;
        _protocol = protocol;
        _options = options;
        _time = time;
        _logger = logger;
        ConnectedAt = time.GetUtcNow();
        var wake = new AsyncSignal();
        _close = new CloseRequest(wake);
        Writer = new ConnectionWriter(transport, wake, _close, selection, protocol, remote, options, metrics, time, logger);
        _reader = new ConnectionReader(socket, this, protocol, _close, options, readerFailures ?? new LogThrottle(time, LogThrottle.DefaultInterval), logger);
    }

    /// <summary>Index in the broadcaster's slot array; owned by <see cref="Broadcaster"/>.</summary>
    internal int Slot { get; set; } = -1;

    public string Remote { get; }

    public DateTimeOffset ConnectedAt { get; }

    /// <summary>This client's sender: its cursor into the ring, its replay and queued messages.</summary>
    public ConnectionWriter Writer { get; }

    /// <summary>
    /// When the client's credentials stop being valid; null when auth is off. Moved by an in-band
    /// token refresh (reader task) and read by the sweeper, hence one atomic field (UTC ticks, 0: none).
    /// </summary>
    public DateTimeOffset? ExpiresAt
    {
        get => Volatile.Read(ref _expiresAtTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
        set => Volatile.Write(ref _expiresAtTicks, value?.UtcTicks ?? 0);
    }

    /// <summary>
    /// The streams the connection's token may read (a bit per stream, every stream with
    /// authentication off); a subscribe cannot go beyond them, an in-band refresh may narrow them.
    /// The reader task alone reads and writes it.
    /// </summary>
    public ulong Readable { get; set; } = ulong.MaxValue;

    /// <summary>The client asked for notices (<c>?notices=1</c> on /ws): it is sent status messages.</summary>
    public bool Notices { get; init; }

    /// <summary>Which readings the client wants; a change applies to frames published from now on.</summary>
    public ClientSelection Selection
    {
        get => Volatile.Read(ref _selection);
        set
        {
            Volatile.Write(ref _selection, value);
            Writer.ChangeSelection(value);
        }
    }

    public bool IsClosing => _close.IsRequested;

    /// <summary>Frames and messages waiting for this client now (frames bounded by the queue capacity).</summary>
    public int QueuedCount => Writer.QueuedCount;

    /// <summary>Whether this client's writes go to its socket itself (<see cref="StreamingOptions.DirectSocketWrites"/>).</summary>
    internal bool WritesToSocket => _transport.WritesToSocket;

    /// <summary>The next ring index this client's writer takes.</summary>
    internal long Cursor => Writer.Cursor;

    /// <summary>Called by the broadcaster when the client is added: its slot and the first ring index it gets.</summary>
    internal void Attach(Broadcaster broadcaster, int slot, long cursor)
    {
        Slot = slot;
        Writer.Attach(broadcaster, cursor);
    }

    /// <summary>A frame this client selected was published. Called by the publisher; never blocks.</summary>
    public void Wake() => Writer.Wake();

    /// <summary>Queues a message for this client alone (a control reply); false when too many are waiting.</summary>
    public bool Send(ReadOnlyMemory<byte> message) => Writer.Send(message);

    /// <summary>Queues a last message (an error) and closes once the writer has sent it.</summary>
    public void SendThenClose(ReadOnlyMemory<byte> message, CloseReason reason) => Writer.SendThenClose(message, reason);

    /// <summary>Asks the connection to close; the first reason wins.</summary>
    public void Close(CloseReason reason) => _close.Request(reason);

    /// <summary>Periodic check, from the sweeper: stalled sends, an overdue replay and expired credentials.</summary>
    public void Check(long nowTimestamp, DateTimeOffset utcNow)
    {
        if (Writer.IsStalled(nowTimestamp))
        {
            // A replay that reads a batch now and then still ends within its own deadline.
            Close(CloseReason.TooSlow);
        }
        else if (ExpiresAt is { } expires && utcNow >= expires)
        {
            Close(CloseReason.TokenExpired);
        }
        else if (!IsClosing)
        {
            _protocol?.Sweep(this, utcNow);
        }
    }

    /// <summary>Runs the connection until it has closed; returns the reason it ended.</summary>
    public async Task<CloseReason> RunAsync(CancellationToken stopping)
    {
        using var stopRegistration = stopping.Register(static s => ((ClientConnection)s!).Close(CloseReason.ShuttingDown), this);
        var reader = _reader.RunAsync();
        var writer = Writer.RunAsync();

        CloseReason reason;
        var first = await Task.WhenAny(reader, _close.Reason);
        if (first == reader)
        {
            // The client closed (or the socket broke): echo its close if the handshake is still open.
            // The reader never faults; a reason it set itself (ServerError, MessageTooBig) wins.
            Close(reader.IsCompletedSuccessfully && reader.Result ? CloseReason.ClientClosed : CloseReason.ConnectionLost);
        }

        reason = await _close.Reason;

        if (reason.Status != WebSocketCloseStatus.Empty && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                // The close frame goes after the data the writer has in flight (it stops at the end
                // of its current write); a client that never drains that is aborted.
                using var timeout = new CancellationTokenSource(_options.CloseTimeout, _time);
                await writer.WaitAsync(timeout.Token);
                await _socket.CloseOutputAsync(reason.Status, reason.Description, timeout.Token);
                await reader.WaitAsync(_options.CloseTimeout, _time, CancellationToken.None);
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or WebSocketException or IOException)
            {
                Log.CloseHandshakeFailed(_logger, Remote, reason.Metric);
            }
        }

        _socket.Abort();
        await writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await ((Task)reader).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return reason;
    }
}
