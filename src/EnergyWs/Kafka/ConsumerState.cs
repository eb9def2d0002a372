using System.Collections.Concurrent;

namespace EnergyWs.Kafka;

/// <summary>
/// What the consumer is doing, as readiness and metrics need it. Written by the consumer and
/// probe threads, read by health checks and metric scrapes.
/// </summary>
internal sealed class ConsumerState(TimeProvider time)
{
    private readonly ConcurrentDictionary<PartitionKey, PartitionProgress> _partitions = new();

    // Partitions a topic's metadata lists that are not assigned yet, with why (the last error).
    private readonly ConcurrentDictionary<PartitionKey, string> _waiting = new();

    // Topics whose partitions were never listed (missing, or no metadata yet), with why.
    private readonly ConcurrentDictionary<string, string> _unavailable = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _listed = new(StringComparer.Ordinal);
    private long _lastContact;
    private volatile bool _brokersDown;
    private volatile string? _lastError;

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

    public IEnumerable<KeyValuePair<PartitionKey, PartitionProgress>> Partitions => _partitions;

    /// <summary>Partitions known to exist but not assigned yet, by topic and partition, each with why.</summary>
    public IReadOnlyList<KeyValuePair<PartitionKey, string>> Unassigned =>
        [.. _waiting.OrderBy(w => w.Key.Topic, StringComparer.Ordinal).ThenBy(w => w.Key.Partition)];

    /// <summary>Topics whose partitions have never been listed (the topic does not exist, or no metadata yet), each with why.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> UnavailableTopics => [.. _unavailable.OrderBy(u => u.Key, StringComparer.Ordinal)];

    /// <summary>
    /// True while any partition is still below the offset where live reading began: the history
    /// read back at start is not complete yet, so a client connecting now would miss part of it.
    /// </summary>
    public bool Replaying => _partitions.Values.Any(p => Volatile.Read(ref p.Position) < p.LiveFrom);

    /// <param name="nextOffset">Where reading starts.</param>
    /// <param name="liveFrom">Offsets below this are history read back at start (not broadcast live).</param>
    public void AddPartition(PartitionKey partition, long nextOffset, long liveFrom)
    {
        _partitions.TryAdd(partition, new PartitionProgress { Position = nextOffset, HighWatermark = nextOffset, LiveFrom = liveFrom });
        _waiting.TryRemove(partition, out _);
    }

    /// <summary>A topic's partitions could not be listed; once they were, later failures are errors only.</summary>
    public void TopicUnavailable(string topic, string reason)
    {
        if (!_listed.ContainsKey(topic))
        {
            _unavailable[topic] = reason;
        }
    }

    /// <summary>A topic's partitions were listed.</summary>
    public void TopicListed(string topic)
    {
        _listed.TryAdd(topic, 0);
        _unavailable.TryRemove(topic, out _);
    }

    /// <summary>A topic lists a partition that is not assigned yet.</summary>
    public void Discovered(PartitionKey partition)
    {
        if (!_partitions.ContainsKey(partition))
        {
            _waiting.TryAdd(partition, "not assigned yet");
        }
    }

    /// <summary>A partition could not be assigned (its watermarks or the assignment failed); it is retried.</summary>
    public void Waiting(PartitionKey partition, string reason)
    {
        if (!_partitions.ContainsKey(partition))
        {
            _waiting[partition] = reason;
        }
    }

    public void Consumed(PartitionKey partition, long offset)
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

    public void Watermark(PartitionKey partition, long high)
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
