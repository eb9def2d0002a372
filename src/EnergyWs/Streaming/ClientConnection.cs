using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using EnergyWs.Readings;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming;

/// <summary>Something to write to one client: a shared reading frame or a message for it alone.</summary>
internal readonly record struct Outbound(ReadingFrame? Frame, ReadOnlyMemory<byte> Message);

/// <summary>
/// One WebSocket client: a bounded queue, exactly one writer task draining it, one reader task.
/// </summary>
/// <remarks>
/// Invariants: only the writer task sends data frames; only <see cref="RunAsync"/> sends the
/// close frame; the queue holds at most <see cref="StreamingOptions.QueueCapacity"/> frames and
/// drops the oldest when full, so a slow client costs bounded memory and never blocks the
/// publisher. A client whose socket accepts nothing for <see cref="StreamingOptions.SlowClientTimeout"/>
/// is closed with 1008.
/// </remarks>
internal sealed class ClientConnection
{
    private const int SmallReceiveBuffer = 256;

    private readonly WebSocket _socket;
    private readonly Channel<Outbound> _queue;
    private readonly StreamingOptions _options;
    private readonly StreamingMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<CloseReason> _closeRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ClientSelection _selection;

    // GetTimestamp() when the pending send started; 0 while no send is pending.
    private long _sendStartedAt;

    // History to send before anything queued; set once before RunAsync, read by the writer only.
    private IReadOnlyList<ReadingFrame>? _replay;

    // GetTimestamp() when the replay was written: frames queued meanwhile age from then, not from
    // their arrival, so a long replay does not turn the live frames behind it stale (a gap).
    private long _replayEndedAt;

    // Why the writer closes when it reaches the close marker queued by SendThenClose.
    private CloseReason _closeAfterSend = CloseReason.ConnectionLost;

    public ClientConnection(
        WebSocket socket,
        ClientSelection selection,
        string remote,
        StreamingOptions options,
        StreamingMetrics metrics,
        TimeProvider time,
        ILogger logger)
    {
        _socket = socket;
        _selection = selection;
        Remote = remote;
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        ConnectedAt = time.GetUtcNow();
        _queue = Channel.CreateBounded<Outbound>(
            new BoundedChannelOptions(options.QueueCapacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = false,
                AllowSynchronousContinuations = false,
            },
            _ => metrics.FrameDropped("queue_full"));
    }

    /// <summary>Index in the broadcaster's slot array; owned by <see cref="Broadcaster"/>.</summary>
    internal int Slot { get; set; } = -1;

    public string Remote { get; }

    public DateTimeOffset ConnectedAt { get; }

    /// <summary>When the client's credentials stop being valid; null when auth is off.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    public ClientSelection Selection
    {
        get => Volatile.Read(ref _selection);
        set => Volatile.Write(ref _selection, value);
    }

    /// <summary>Handles a text or binary message from the client (the control protocol); null ignores them.</summary>
    public Func<ClientConnection, ReadOnlyMemory<byte>, ValueTask>? OnMessage { get; init; }

    /// <summary>Turns a reading frame into this client's bytes; null sends the frame's own JSON.</summary>
    public Func<ReadingFrame, ReadOnlyMemory<byte>>? Format { get; init; }

    /// <summary>Frames with a sequence at or below this were already sent by a replay and are skipped.</summary>
    public long SkipThroughSequence { get; set; }

    public bool IsClosing => _closeRequested.Task.IsCompleted;

    /// <summary>Frames waiting for this client now (bounded by the queue capacity).</summary>
    public int QueuedCount => _queue.Reader.Count;

    /// <summary>Queues a reading if this client selected it. Called by the publisher; never blocks.</summary>
    public void Enqueue(ReadingFrame frame)
    {
        if (Selection.Accepts(frame.Reading))
        {
            _queue.Writer.TryWrite(new Outbound(frame, default));
        }
    }

    /// <summary>Queues a message for this client alone (control replies, replayed history).</summary>
    public bool Send(ReadOnlyMemory<byte> message) => _queue.Writer.TryWrite(new Outbound(null, message));

    /// <summary>
    /// Replayed history: the writer sends these frames (through <see cref="Format"/>, not subject
    /// to the queue bound or <see cref="StreamingOptions.MaxFrameAge"/>) before anything queued, then
    /// skips queued frames with a sequence at or below <paramref name="skipThroughSequence"/>.
    /// Call once, after the connection is registered with the broadcaster and before <see cref="RunAsync"/>.
    /// </summary>
    public void SetReplay(IReadOnlyList<ReadingFrame> frames, long skipThroughSequence)
    {
        _replay = frames;
        SkipThroughSequence = skipThroughSequence;
    }

    /// <summary>Queues a last message (an error) and closes once the writer has sent it.</summary>
    public void SendThenClose(ReadOnlyMemory<byte> message, CloseReason reason)
    {
        _closeAfterSend = reason;
        if (!Send(message) || !_queue.Writer.TryWrite(default))
        {
            Close(reason);
        }
    }

    /// <summary>Asks the connection to close; the first reason wins.</summary>
    public void Close(CloseReason reason) => _closeRequested.TrySetResult(reason);

    /// <summary>Periodic check, from the sweeper: stalled sends and expired credentials.</summary>
    public void Check(long nowTimestamp, DateTimeOffset utcNow)
    {
        var started = Volatile.Read(ref _sendStartedAt);
        if (started != 0 && _time.GetElapsedTime(started, nowTimestamp) > _options.SlowClientTimeout)
        {
            Close(CloseReason.TooSlow);
        }
        else if (ExpiresAt is { } expires && utcNow >= expires)
        {
            Close(CloseReason.TokenExpired);
        }
    }

    /// <summary>Runs the connection until it has closed; returns the reason it ended.</summary>
    public async Task<CloseReason> RunAsync(CancellationToken stopping)
    {
        using var stopRegistration = stopping.Register(static s => ((ClientConnection)s!).Close(CloseReason.ShuttingDown), this);
        var reader = ReadLoopAsync();
        var writer = WriteLoopAsync();

        CloseReason reason;
        var first = await Task.WhenAny(reader, _closeRequested.Task);
        if (first == reader)
        {
            // The client closed (or the socket broke): echo its close if the handshake is still open.
            var clientClosed = await reader;
            Close(clientClosed ? CloseReason.ClientClosed : CloseReason.ConnectionLost);
        }

        reason = await _closeRequested.Task;
        _queue.Writer.TryComplete();

        if (reason.Status != WebSocketCloseStatus.Empty && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                // The close frame queues behind a pending send; a client that never drains it is aborted.
                using var timeout = new CancellationTokenSource(_options.CloseTimeout, _time);
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

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        try
        {
            if (_replay is { } replay)
            {
                await WriteReplayAsync(replay);
                _replay = null;
                _replayEndedAt = _time.GetTimestamp();
            }

            while (await reader.WaitToReadAsync())
            {
                while (!IsClosing && reader.TryRead(out var item))
                {
                    ReadOnlyMemory<byte> payload;
                    if (item.Frame is { } frame)
                    {
                        if (frame.Sequence <= SkipThroughSequence)
                        {
                            continue;
                        }

                        if (_time.GetElapsedTime(Math.Max(frame.ReceivedTimestamp, _replayEndedAt)) > _options.MaxFrameAge)
                        {
                            _metrics.FrameDropped("stale");
                            continue;
                        }

                        payload = Format is null ? frame.Utf8Json : Format(frame);
                    }
                    else if (item.Message.IsEmpty)
                    {
                        // The marker queued by SendThenClose: everything before it is sent.
                        Close(_closeAfterSend);
                        return;
                    }
                    else
                    {
                        payload = item.Message;
                    }

                    Volatile.Write(ref _sendStartedAt, _time.GetTimestamp());
                    await _socket.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    Volatile.Write(ref _sendStartedAt, 0);

                    if (item.Frame is { RecordTimestamp: { } recorded })
                    {
                        _metrics.FrameSent((_time.GetUtcNow() - recorded).TotalSeconds);
                    }
                    else
                    {
                        _metrics.FrameSent();
                    }
                }

                if (IsClosing)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // A failed send ends this connection only.
            Volatile.Write(ref _sendStartedAt, 0);
            _metrics.FrameDropped("send_failed");
            Close(CloseReason.ConnectionLost);
        }
    }

    /// <summary>Sends replayed history one frame at a time, awaiting the socket: memory stays at the frame list.</summary>
    private async Task WriteReplayAsync(IReadOnlyList<ReadingFrame> replay)
    {
        for (var i = 0; i < replay.Count && !IsClosing; i++)
        {
            var frame = replay[i];
            var payload = Format is null ? frame.Utf8Json : Format(frame);
            Volatile.Write(ref _sendStartedAt, _time.GetTimestamp());
            await _socket.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            Volatile.Write(ref _sendStartedAt, 0);
            _metrics.FrameSent();
        }
    }

    /// <summary>Reads client messages; returns true when the client sent a close frame, false when the socket broke.</summary>
    private async Task<bool> ReadLoopAsync()
    {
        // Idle clients wait on a small buffer; a larger one is rented only while a long message arrives.
        var small = new byte[SmallReceiveBuffer];
        byte[]? rented = null;
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(small.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return true;
                }

                var length = result.Count;
                var buffer = small;
                while (!result.EndOfMessage)
                {
                    if (rented is null)
                    {
                        rented = ArrayPool<byte>.Shared.Rent(_options.MaxMessageBytes + 1);
                        small.AsSpan(0, length).CopyTo(rented);
                    }

                    buffer = rented;
                    if (length >= _options.MaxMessageBytes + 1)
                    {
                        break;
                    }

                    result = await _socket.ReceiveAsync(rented.AsMemory(length, _options.MaxMessageBytes + 1 - length), CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return true;
                    }

                    length += result.Count;
                }

                if (length > _options.MaxMessageBytes)
                {
                    Close(CloseReason.MessageTooBig);
                    return await DrainUntilCloseAsync(small);
                }

                if (OnMessage is { } handler && !IsClosing)
                {
                    await handler(this, buffer.AsMemory(0, length));
                }

                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                    rented = null;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>After we asked to close, discard whatever the client still sends until its close frame.</summary>
    private async Task<bool> DrainUntilCloseAsync(byte[] buffer)
    {
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return true;
            }
        }
    }
}
