using EnergyWs.Readings;

namespace EnergyWs.Streaming;

/// <summary>
/// The set of connected clients and the fan-out to them.
/// </summary>
/// <remarks>
/// Clients live in a slot array: add and remove take the lock and touch one slot, publishing reads
/// the array without a lock and allocates nothing, whatever the number of clients. A slot written
/// while a publish is running may miss that one frame; the history replay closes that gap because
/// the pipeline appends to history before it publishes.
/// </remarks>
internal sealed class Broadcaster
{
    private readonly Lock _gate = new();
    private readonly Stack<int> _freeSlots = new();
    private ClientConnection?[] _slots = new ClientConnection?[64];
    private int _used;
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds a client unless <paramref name="limit"/> is reached.</summary>
    public bool TryAdd(ClientConnection connection, int limit)
    {
        ArgumentNullException.ThrowIfNull(connection);
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

            connection.Slot = slot;
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

    /// <summary>Queues the frame for every client that selected it. Never waits for a client.</summary>
    public void Publish(ReadingFrame frame)
    {
        var slots = Volatile.Read(ref _slots);
        var used = Math.Min(Volatile.Read(ref _used), slots.Length);
        for (var i = 0; i < used; i++)
        {
            Volatile.Read(ref slots[i])?.Enqueue(frame);
        }
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
