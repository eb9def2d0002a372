using System.Collections.Concurrent;

namespace EnergyWs.Kafka;

/// <summary>
/// What the consumer is doing, as readiness and metrics need it. Written by the consumer and
/// probe threads, read by health checks and metric scrapes.
/// </summary>
internal sealed class ConsumerState(TimeProvider time)
{
    private readonly ConcurrentDictionary<int, PartitionProgress> _partitions = new();

    // Partitions the topic's metadata lists that are not assigned yet, with why (the last error).
    private readonly ConcurrentDictionary<int, string> _waiting = new();
    private long _lastContact;
    private volatile bool _brokersDown;
    private volatile string? _lastError;

    public string Topic { get; set; } = "";

    public bool Assigned => !_partitions.IsEmpty;

    public bool BrokersDown => _brokersDown;

    public string? LastError => _lastError;

    /// <summary>Time since the broker last answered (a fetch with data or a watermark probe); null if never.</summary>
    public TimeSpan? SinceLastContact
    {
        get
        {
            var last = Interlocked.Read(ref _lastContact);
            return last == 0 ? null : time.GetElapsedTime(last);
        }
    }

    public IEnumerable<KeyValuePair<int, PartitionProgress>> Partitions => _partitions;

    /// <summary>Partitions known to exist but not assigned yet, in order, each with why.</summary>
    public IReadOnlyList<KeyValuePair<int, string>> Unassigned => [.. _waiting.OrderBy(w => w.Key)];

    /// <summary>
    /// True while any partition is still below the offset where live reading began: the history
    /// read back at start is not complete yet, so a client connecting now would miss part of it.
    /// </summary>
    public bool Replaying => _partitions.Values.Any(p => Volatile.Read(ref p.Position) < p.LiveFrom);

    /// <param name="nextOffset">Where reading starts.</param>
    /// <param name="liveFrom">Offsets below this are history read back at start (not broadcast live).</param>
    public void AddPartition(int partition, long nextOffset, long liveFrom)
    {
        _partitions.TryAdd(partition, new PartitionProgress { Position = nextOffset, HighWatermark = nextOffset, LiveFrom = liveFrom });
        _waiting.TryRemove(partition, out _);
    }

    /// <summary>The topic lists a partition that is not assigned yet.</summary>
    public void Discovered(int partition)
    {
        if (!_partitions.ContainsKey(partition))
        {
            _waiting.TryAdd(partition, "not assigned yet");
        }
    }

    /// <summary>A partition could not be assigned (its watermarks or the assignment failed); it is retried.</summary>
    public void Waiting(int partition, string reason)
    {
        if (!_partitions.ContainsKey(partition))
        {
            _waiting[partition] = reason;
        }
    }

    public void Consumed(int partition, long offset)
    {
        if (_partitions.TryGetValue(partition, out var p))
        {
            Volatile.Write(ref p.Position, offset + 1);
            if (offset + 1 > Volatile.Read(ref p.HighWatermark))
            {
                Volatile.Write(ref p.HighWatermark, offset + 1);
            }
        }

        Contact();
    }

    public void Watermark(int partition, long high)
    {
        if (_partitions.TryGetValue(partition, out var p))
        {
            Volatile.Write(ref p.HighWatermark, high);
        }
    }

    public void Contact()
    {
        Interlocked.Exchange(ref _lastContact, time.GetTimestamp());
        _brokersDown = false;
        _lastError = null;
    }

    public void Error(string reason, bool brokersDown)
    {
        _lastError = reason;
        if (brokersDown)
        {
            _brokersDown = true;
        }
    }

    internal sealed class PartitionProgress
    {
        /// <summary>Next offset the consumer will read.</summary>
        public long Position;

        /// <summary>Offset after the last record in the partition, as last seen.</summary>
        public long HighWatermark;

        /// <summary>First offset read live; below it, records were read back to rebuild history.</summary>
        public long LiveFrom;

        public long Lag => Math.Max(0, Volatile.Read(ref HighWatermark) - Volatile.Read(ref Position));
    }
}
