using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using EnergyWs.Readings;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming;

/// <summary>
/// A connection's only sender of data frames: a cursor into the broadcaster's shared ring, the
/// replay written before it, the queue of control messages for this client alone, and the batch
/// they are framed into, one write per backlog (<see cref="WebSocketTransport"/>).
/// </summary>
/// <remarks>
/// Invariants: only <see cref="RunAsync"/> (or, while it is not running, one caller at a time)
/// touches the cursor, the batch and the replay; anyone may queue a message or wake it. A client is
/// at most <see cref="StreamingOptions.MaxFramesBehind"/> frames behind: older ones are skipped for
/// it (dropped, counted), so a slow client costs at most one pooled batch buffer while its write
/// is pending and never blocks the publisher. Under overload a frame older than
/// <see cref="StreamingOptions.MaxFrameAge"/> whose meter already sent a newer one is dropped.
/// The writer asks its connection to close (<see cref="CloseRequest"/>); it never sends the close frame.
/// </remarks>
internal sealed class ConnectionWriter
{
    /// <summary>Something for the writer besides readings: a message, a selection change at a ring index, or the close marker.</summary>
    private readonly record struct Pending(ReadOnlyMemory<byte> Message, ClientSelection? Selection, long At, bool Close);

    // Control replies and selection changes waiting for one client; a client that sends requests
    // and never reads the replies is closed as too slow instead of growing this.
    private const int MaxQueuedMessages = 64;

    // A write carries whatever is queued up to about this many bytes (~100 readings): enough to
    // amortise the syscall, small enough that one client's write is quick. The batch stops taking
    // frames once less than BatchSlack is free, so a pooled 16 KB array almost never has to grow.
    private const int BatchBytes = 16 * 1024;
    private const int BatchSlack = 1024;
    private const int BatchLimit = BatchBytes - BatchSlack;

    // Replayed history is written in chunks so a long replay still shows progress to the sweeper.
    private const int MaxReplayFramesPerWrite = 256;

    private readonly WebSocketTransport _transport;
    private readonly AsyncSignal _wake;
    private readonly CloseRequest _close;
    private readonly IControlProtocol? _protocol;
    private readonly string _remote;
    private readonly StreamingOptions _options;
    private readonly StreamingMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // The selection the writer applies: it changes in order with the stream, at the ring index
    // where the client changed it, so frames published before a change follow the old one.
    private ClientSelection _writerSelection;

    // Set by the broadcaster when the client is added; the cursor is the next ring index to send.
    private Broadcaster? _broadcaster;
    private long _cursor;

    // For the writer, in order: control replies, selection changes, the close marker. Created on first use.
    private ConcurrentQueue<Pending>? _pending;
    private int _messageCount;

    // GetTimestamp() when the pending send started; 0 while no send is pending.
    private long _sendStartedAt;

    // History to send before anything queued; set once before RunAsync, cleared by the writer once
    // written, so an idle client holds none of it. _replayRelease returns its share of the budget.
    private List<ReadingFrame>? _replay;
    private IDisposable? _replayRelease;

    // GetTimestamp() when the replay was handed over, and how long it may take to write whole;
    // the sweeper closes the client as too slow beyond it (its share is returned as it closes).
    private long _replayStartedAt;
    private TimeSpan _replayTimeout = TimeSpan.MaxValue;

    // Sequences of replayed frames that were not yet published when the replay was taken: the live
    // stream may still bring them, and they are skipped there. Ascending, like the stream; dropped
    // once the stream is past them.
    private long[]? _replayed;
    private int _replayedNext;

    // GetTimestamp() when the replay was written: frames queued meanwhile age from then, not from
    // their arrival, so a long replay does not turn the live frames behind it stale (a gap).
    private long _replayEndedAt;

    // Framed messages waiting for one write; rented while the writer has work, owned by the writer.
    private byte[]? _batch;
    private int _batchLength;
    private int _batchFrames;

    // Why the writer closes when it reaches the close marker queued by SendThenClose.
    private CloseReason _closeAfterSend = CloseReason.ConnectionLost;

    /// <param name="protocol">Renders readings for this client (<see cref="IControlProtocol.Format"/>); null sends each frame's own JSON.</param>
    public ConnectionWriter(
        WebSocketTransport transport,
        AsyncSignal wake,
        CloseRequest close,
        ClientSelection selection,
        IControlProtocol? protocol,
        string remote,
        StreamingOptions options,
        StreamingMetrics metrics,
        TimeProvider time,
        ILogger logger)
    {
        _transport = transport;
        _wake = wake;
        _close = close;
        _writerSelection = selection;
        _protocol = protocol;
        _remote = remote;
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <summary>Frames and messages waiting for this client now (frames bounded by the queue capacity).</summary>
    public int QueuedCount =>
        Volatile.Read(ref _messageCount) +
        (_broadcaster is { } b ? (int)Math.Min(Math.Max(b.Head - Volatile.Read(ref _cursor), 0), b.Capacity) : 0);

    /// <summary>The next ring index this writer takes.</summary>
    public long Cursor => Volatile.Read(ref _cursor);

    /// <summary>Whether this client still holds its replay (and its share of the budget).</summary>
    public bool ReplayInFlight => Volatile.Read(ref _replayRelease) is not null;

    /// <summary>Called when the client is added to the broadcaster: the first ring index it gets.</summary>
    public void Attach(Broadcaster broadcaster, long cursor)
    {
        _broadcaster = broadcaster;
        Volatile.Write(ref _cursor, cursor);
    }

    /// <summary>A frame this client selected was published, or there is something else to do. Never blocks.</summary>
    public void Wake() => _wake.Signal();

    /// <summary>
    /// True when the pending write has waited longer than <see cref="StreamingOptions.SlowClientTimeout"/>,
    /// or the replay is still unwritten past its deadline. Read by the sweeper.
    /// </summary>
    public bool IsStalled(long nowTimestamp)
    {
        var started = Volatile.Read(ref _sendStartedAt);
        return (started != 0 && _time.GetElapsedTime(started, nowTimestamp) > _options.SlowClientTimeout) ||
            (ReplayInFlight && _time.GetElapsedTime(_replayStartedAt, nowTimestamp) > _replayTimeout);
    }

    /// <summary>Queues a message for this client alone (a control reply); false when too many are waiting.</summary>
    public bool Send(ReadOnlyMemory<byte> message) => SendPending(new Pending(message, null, 0, Close: false));

    /// <summary>Applies <paramref name="selection"/> to frames published from now on (the ring's head).</summary>
    public void ChangeSelection(ClientSelection selection) =>
        SendPending(new Pending(default, selection, _broadcaster?.Head ?? 0, Close: false));

    /// <summary>Queues a last message (an error); the connection closes with <paramref name="reason"/> once it is sent.</summary>
    public void SendThenClose(ReadOnlyMemory<byte> message, CloseReason reason)
    {
        _closeAfterSend = reason;
        if (!Send(message) || !SendPending(new Pending(default, null, 0, Close: true)))
        {
            _close.Request(reason);
        }
    }

    private bool SendPending(Pending pending)
    {
        if (Interlocked.Increment(ref _messageCount) > MaxQueuedMessages)
        {
            // The client keeps asking and does not read the answers: it is treated as too slow.
            Interlocked.Decrement(ref _messageCount);
            _metrics.FrameDropped("queue_full");
            _close.Request(CloseReason.TooSlow);
            return false;
        }

        var queue = Volatile.Read(ref _pending) ?? Interlocked.CompareExchange(ref _pending, new(), null) ?? _pending!;
        queue.Enqueue(pending);
        _wake.Signal();
        return true;
    }

    /// <summary>
    /// Replayed history, in sequence order: the writer sends these frames (through the protocol's
    /// format, not subject to the queue bound or <see cref="StreamingOptions.MaxFrameAge"/>) before
    /// anything queued, then <paramref name="release"/> is disposed. Call once, after the connection
    /// is registered with the broadcaster and before <see cref="RunAsync"/>; the list becomes the writer's.
    /// </summary>
    /// <remarks>
    /// The seam is exact: each frame goes out once, from the replay or from the live stream. A
    /// replayed frame already published at or after this client's cursor is left to the live stream
    /// (so those go out in order); one not yet published stays in the replay and is skipped when it
    /// is. Everything else in the live stream is sent, whatever its timestamp.
    /// </remarks>
    /// <param name="frames">The frames to replay.</param>
    /// <param name="release">Disposed once the replay is written or the connection ends.</param>
    /// <param name="timeout">How long the whole replay may take to write; null: no bound but <see cref="StreamingOptions.SlowClientTimeout"/> per write.</param>
    public void SetReplay(List<ReadingFrame> frames, IDisposable? release = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(frames);
        var cursor = _cursor;

        // Frames are published in sequence order, so only those after the frame before the cursor
        // can still be in the live stream; without it (none yet, or overwritten), any can.
        var before = cursor > 0 ? _broadcaster?.At(cursor - 1) : null;
        var threshold = before?.Sequence ?? long.MinValue;
        var tail = frames.Count;
        while (tail > 0 && frames[tail - 1].Sequence > threshold)
        {
            tail--;
        }

        List<long>? unpublished = null;
        var kept = tail;
        for (var i = tail; i < frames.Count; i++)
        {
            var frame = frames[i];
            var index = frame.RingIndex;
            if (index >= cursor)
            {
                continue;
            }

            if (index < 0)
            {
                (unpublished ??= []).Add(frame.Sequence);
            }

            frames[kept++] = frame;
        }

        frames.RemoveRange(kept, frames.Count - kept);
        _replayed = unpublished?.ToArray();
        _replayedNext = 0;
        _replay = frames;
        _replayTimeout = timeout ?? TimeSpan.MaxValue;
        _replayStartedAt = _time.GetTimestamp();
        Volatile.Write(ref _replayRelease, release);
    }

    /// <summary>The write loop: the replay, then whatever is pending, until the connection closes. Never throws.</summary>
    public async Task RunAsync()
    {
        try
        {
            // No local here holds the replay: this method lives as long as the connection.
            if (_replay is not null)
            {
                await WriteReplayAsync();
                _replayEndedAt = _time.GetTimestamp();
            }

            while (!_close.IsRequested)
            {
                if (TakePending(out var closeNow))
                {
                    // Everything waiting goes out in one write (or a few, for a large backlog).
                    await FlushBatchAsync();
                    if (closeNow)
                    {
                        _close.Request(_closeAfterSend);
                        return;
                    }

                    continue;
                }

                // Caught up: an idle connection holds no batch buffer.
                ReleaseBatch();
                await _wake.WaitAsync();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // A failed send ends this connection only.
            Volatile.Write(ref _sendStartedAt, 0);
            _metrics.FrameDropped("send_failed");
            _close.Request(CloseReason.ConnectionLost);
        }
#pragma warning disable CA1031 // A bug in the writer must end this connection visibly, not leave it open and silent.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Volatile.Write(ref _sendStartedAt, 0);
            Log.WriterFailed(_logger, ex, _remote);
            _close.Request(CloseReason.ConnectionLost);
        }
        finally
        {
            ReleaseBatch();
            ReleaseReplay();
        }
    }

    /// <summary>
    /// Appends what waits for this client to the batch: control replies first, readings after,
    /// each selection change applied at the ring index where it was made. True if anything was taken.
    /// </summary>
    public bool TakePending(out bool closeNow)
    {
        closeNow = false;
        var any = false;
        while (_batchLength < BatchLimit && _pending is { } queue && queue.TryPeek(out var pending))
        {
            if (pending.Selection is { } selection)
            {
                // Frames published before the change follow the selection they were published under.
                any |= TakeFrames(pending.At);
                if (_cursor < pending.At)
                {
                    // The batch filled first: flush, then come back for the rest.
                    return true;
                }

                _writerSelection = selection;
                Interlocked.Decrement(ref _messageCount);
            }
            else if (pending.Close)
            {
                // The marker queued by SendThenClose: everything before it is sent.
                closeNow = true;
                queue.TryDequeue(out _);
                Interlocked.Decrement(ref _messageCount);
                return true;
            }
            else
            {
                Append(pending.Message.Span);
                any = true;
                Interlocked.Decrement(ref _messageCount);
            }

            queue.TryDequeue(out _);
        }

        return TakeFrames(long.MaxValue) | any;
    }

    /// <summary>Appends the frames published since the cursor, up to ring index <paramref name="until"/>, to the batch; true if the cursor moved.</summary>
    private bool TakeFrames(long until)
    {
        if (_broadcaster is not { } ring)
        {
            return false;
        }

        var cursor = _cursor;
        var end = Math.Min(ring.Head, until);
        if (cursor >= end)
        {
            return false;
        }

        // One clock read per batch: the frames in it are written together.
        var now = _time.GetTimestamp();
        DateTimeOffset? oldestRecord = null;
        while (cursor < end && _batchLength < BatchLimit && !_close.IsRequested)
        {
            if (ring.Head - cursor > ring.Capacity || ring.At(cursor) is not { } frame)
            {
                // Too far behind (or lapped while reading): skip to the newest frames it may have,
                // but not past a selection change, so each skipped frame is judged by its selection.
                var resume = Math.Min(Math.Max(ring.Head - ring.Capacity, cursor + 1), until);
                _metrics.FramesDropped("queue_full", CountWanted(ring, cursor, resume));
                cursor = resume;
                continue;
            }

            cursor++;
            if (SkipReplayed(frame.Sequence) || !_writerSelection.Accepts(frame.Reading))
            {
                continue;
            }

            // Under overload, a reading that waited too long is dropped when its meter already sent a
            // newer one: the client catches up to the present instead of replaying the past.
            if (frame.Superseded && _time.GetElapsedTime(Math.Max(frame.ReceivedTimestamp, _replayEndedAt), now) > _options.MaxFrameAge)
            {
                _metrics.FrameDropped("stale");
                continue;
            }

            Append(_protocol is null ? frame.Utf8Json.Span : _protocol.Format(frame).Span);
            oldestRecord ??= frame.RecordTimestamp;
        }

        Volatile.Write(ref _cursor, cursor);
        if (oldestRecord is { } recorded)
        {
            // Once per write, for its oldest frame: the latency histogram costs nothing per frame.
            _metrics.DeliveryLatency((_time.GetUtcNow() - recorded).TotalSeconds);
        }

        return true;
    }

    /// <summary>
    /// How many of the frames in [<paramref name="from"/>, <paramref name="to"/>) this client would
    /// have been sent: a client that selected some meters loses only those. A frame already
    /// overwritten cannot be checked and counts as lost; only the ones still in the ring are
    /// looked at (at most about <see cref="Broadcaster.Capacity"/>), however far behind the client is.
    /// </summary>
    private long CountWanted(Broadcaster ring, long from, long to)
    {
        var checkFrom = Math.Clamp(ring.Head - ring.Length, from, to);
        var wanted = checkFrom - from;
        for (var i = checkFrom; i < to; i++)
        {
            if (ring.At(i) is not { } frame ||
                (!WasReplayed(frame.Sequence) && _writerSelection.Accepts(frame.Reading)))
            {
                wanted++;
            }
        }

        return wanted;
    }

    /// <summary>True for a live frame the replay already sent (consumes it: the stream is in sequence order).</summary>
    private bool SkipReplayed(long sequence)
    {
        if (_replayed is not { } replayed)
        {
            return false;
        }

        while (_replayedNext < replayed.Length && replayed[_replayedNext] < sequence)
        {
            _replayedNext++;
        }

        var hit = _replayedNext < replayed.Length && replayed[_replayedNext] == sequence;
        if (hit)
        {
            _replayedNext++;
        }

        if (_replayedNext == replayed.Length)
        {
            _replayed = null;
        }

        return hit;
    }

    /// <summary>Whether the replay sent this frame, without consuming it (for counting drops).</summary>
    private bool WasReplayed(long sequence) =>
        _replayed is { } replayed && Array.BinarySearch(replayed, _replayedNext, replayed.Length - _replayedNext, sequence) >= 0;

    /// <summary>
    /// Sends replayed history in batches, awaiting the socket, then lets go of it: the frames are
    /// referenced only until written.
    /// </summary>
    public async Task WriteReplayAsync()
    {
        try
        {
            var replay = _replay!;
            for (var i = 0; i < replay.Count && !_close.IsRequested; i++)
            {
                var frame = replay[i];
                Append(_protocol is null ? frame.Utf8Json.Span : _protocol.Format(frame).Span);
                if (_batchFrames == MaxReplayFramesPerWrite || _batchLength >= BatchLimit)
                {
                    await FlushBatchAsync();
                }
            }

            await FlushBatchAsync();
        }
        finally
        {
            ReleaseReplay();
        }
    }

    private void ReleaseReplay()
    {
        _replay = null;
        Interlocked.Exchange(ref _replayRelease, null)?.Dispose();
    }

    /// <summary>Appends one text message, framed, to the batch.</summary>
    private void Append(ReadOnlySpan<byte> payload)
    {
        var needed = _batchLength + WebSocketFraming.MaxHeaderBytes + payload.Length;
        if (_batch is null || needed > _batch.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, BatchBytes));
            if (_batch is not null)
            {
                _batch.AsSpan(0, _batchLength).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_batch);
            }

            _batch = grown;
        }

        var span = _batch.AsSpan(_batchLength);
        var header = WebSocketFraming.WriteTextHeader(span, payload.Length);
        payload.CopyTo(span[header..]);
        _batchLength += header + payload.Length;
        _batchFrames++;
    }

    /// <summary>Writes the batch in one write; the slow-client clock runs while it is pending.</summary>
    public async ValueTask FlushBatchAsync()
    {
        if (_batchLength == 0)
        {
            return;
        }

        Volatile.Write(ref _sendStartedAt, _time.GetTimestamp());
        await _transport.WriteFramesAsync(_batch.AsMemory(0, _batchLength));
        Volatile.Write(ref _sendStartedAt, 0);
        _metrics.FramesSent(_batchFrames);
        _batchLength = 0;
        _batchFrames = 0;
    }

    /// <summary>Returns the batch buffer to the pool (the writer does when it is caught up).</summary>
    public void ReleaseBatch()
    {
        if (_batch is { } batch)
        {
            _batch = null;
            _batchLength = 0;
            _batchFrames = 0;
            ArrayPool<byte>.Shared.Return(batch);
        }
    }

}
