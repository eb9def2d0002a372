using EnergyWs.Readings;
using Microsoft.Extensions.Options;

namespace EnergyWs.Streaming;

/// <summary>
/// The set of connected clients and the fan-out to them.
/// </summary>
/// <remarks>
/// <para>
/// Published frames go into one ring shared by every client; each client's writer keeps its own
/// cursor into it. Publishing writes one slot and wakes the clients that are idle: a client that
/// is still writing costs a flag read, so the publisher keeps up with the topic however slow or
/// numerous the clients are, and a writer with a backlog takes all of it in one socket write.
/// </para>
/// <para>
/// Clients live in a slot array: add and remove take the lock and touch one slot, publishing reads
/// the array without a lock and allocates nothing, whatever the number of clients. A client's
/// cursor starts at the head its endpoint read before the upgrade (so frames published during
/// the handshake reach it), or at the head when it is added; the history snapshot taken after
/// that read covers whatever the cursor starts behind, because the pipeline appends to history
/// before it publishes.
/// </para>
/// </remarks>
internal sealed class Broadcaster
{
    private readonly Lock _gate = new();
    private readonly Stack<int> _freeSlots = new();
    private readonly ReadingFrame?[] _ring;
    private readonly int _ringMask;
    // Newest frame per meter and channel, to mark the one it supersedes (not the history's latest
    // values nor the decoder's fields; see MeterState). Cleared once it holds MeterLimits.MaxMeters
    // and a new meter arrives, which only makes fewer frames droppable until it fills again.
    private readonly Dictionary<(int, string?, string?), ReadingFrame> _latest = [];
    private ClientConnection?[] _slots = new ClientConnection?[64];
    private int _used;
    private int _count;
    private long _head;

    public Broadcaster(IOptions<StreamingOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Capacity = options.Value.MaxFramesBehind;
        // Twice the backlog a client may have, so the slots a lagging writer reads are not the ones being overwritten.
        var size = (int)Math.Min(1L << 30, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Capacity * 2));
        _ring = new ReadingFrame?[size];
        _ringMask = size - 1;
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>The most frames a client may be behind (<see cref="StreamingOptions.MaxFramesBehind"/>); older ones are dropped for it.</summary>
    public int Capacity { get; }

    /// <summary>Frames the ring holds: one more than this far behind the head is overwritten.</summary>
    public int Length => _ringMask + 1;

    /// <summary>Ring index the next published frame will get.</summary>
    public long Head => Volatile.Read(ref _head);

    /// <summary>Adds a client unless <paramref name="limit"/> is reached; it receives frames published from now on.</summary>
    public bool TryAdd(ClientConnection connection, int limit) => TryAdd(connection, limit, from: null, out _);

    /// <summary>
    /// Adds a client unless <paramref name="limit"/> is reached. It receives the frames published
    /// from ring index <paramref name="from"/> (a <see cref="Head"/> read earlier) unless the ring
    /// has moved on by more than half the capacity since (the client would start lapped): then,
    /// and without <paramref name="from"/>, from now on. <paramref name="startedAtFrom"/> says which.
    /// </summary>
    public bool TryAdd(ClientConnection connection, int limit, long? from, out bool startedAtFrom)
    {
        ArgumentNullException.ThrowIfNull(connection);
        startedAtFrom = false;
        lock (_gate)
        {
            if (_count >= limit)
            {
                return false;
            }

            int slot;
            if (_freeSlots.Count > 0)
            {
                slot = _freeSlots.Pop();
            }
            else
            {
                if (_used == _slots.Length)
                {
                    var grown = new ClientConnection?[_slots.Length * 2];
                    Array.Copy(_slots, grown, _slots.Length);
                    Volatile.Write(ref _slots, grown);
                }

                slot = _used;
                Volatile.Write(ref _used, _used + 1);
            }

            var head = Head;
            startedAtFrom = from is { } start && head - start <= Capacity / 2;
            connection.Attach(this, slot, startedAtFrom ? from.GetValueOrDefault() : head);
            Volatile.Write(ref _slots[slot], connection);
            _count++;
            return true;
        }
    }

    public void Remove(ClientConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        lock (_gate)
        {
            var slot = connection.Slot;
            if (slot < 0 || !ReferenceEquals(_slots[slot], connection))
            {
                return;
            }

            Volatile.Write(ref _slots[slot], null);
            _freeSlots.Push(slot);
            connection.Slot = -1;
            _count--;
        }
    }

    /// <summary>
    /// Appends the frame to the ring and wakes the clients that selected it. Never waits for a
    /// client. Called from one thread (the consumer's); each frame is published once.
    /// </summary>
    public void Publish(ReadingFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var key = (frame.Reading.Stream, frame.Reading.Device, frame.Reading.Channel);
        if (_latest.Count >= MeterLimits.MaxMeters && !_latest.ContainsKey(key))
        {
            _latest.Clear();
        }

        var index = _head;
        if (_latest.TryGetValue(key, out var previous))
        {
            previous.Superseded = true;
            if (index - previous.RingIndex > _ringMask)
            {
                // Already lapped: no live client can be sent it any more.
                previous.ReleaseRecord();
            }
        }

        _latest[key] = frame;

        ref var slot = ref _ring[index & _ringMask];
        if (slot is { } lapped && (lapped.Superseded || !_latest.TryGetValue((lapped.Reading.Stream, lapped.Reading.Device, lapped.Reading.Channel), out var latest) || latest != lapped))
        {
            // Out of the ring and not its meter's latest (superseded, or forgotten when the table was cleared).
            lapped.ReleaseRecord();
        }

        frame.RingIndex = index;
        Volatile.Write(ref slot, frame);
        // A full fence, not a release store: the wake checks below read each writer's signal state,
        // and a writer that has just reset it must then see this head (else it could sleep on a frame).
        Interlocked.Exchange(ref _head, index + 1);

        var slots = Volatile.Read(ref _slots);
        var used = Math.Min(Volatile.Read(ref _used), slots.Length);
        for (var i = 0; i < used; i++)
        {
            // A client that selected other meters is also woken now and then, so its cursor keeps up.
            if (Volatile.Read(ref slots[i]) is { } client &&
                (client.Selection.Accepts(frame.Reading) || index - client.Cursor >= _ringMask / 4))
            {
                client.Wake();
            }
        }
    }

    /// <summary>The frame at a ring index, or null once it has been overwritten (the reader was lapped).</summary>
    public ReadingFrame? At(long index)
    {
        var frame = Volatile.Read(ref _ring[index & _ringMask]);
        return frame is not null && frame.RingIndex == index ? frame : null;
    }

    /// <summary>The connected clients now (allocates; for shutdown, sweeps and diagnostics).</summary>
    public List<ClientConnection> Snapshot()
    {
        var slots = Volatile.Read(ref _slots);
        var used = Math.Min(Volatile.Read(ref _used), slots.Length);
        var list = new List<ClientConnection>(Count);
        for (var i = 0; i < used; i++)
        {
            if (Volatile.Read(ref slots[i]) is { } c)
            {
                list.Add(c);
            }
        }

        return list;
    }
}
