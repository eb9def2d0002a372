namespace EnergyWs.Readings;

/// <summary>
/// A reading serialized once. The same <see cref="Utf8Json"/> bytes go to every client, to
/// history and to the REST API; nothing downstream serializes the reading again.
/// </summary>
internal sealed class ReadingFrame(long sequence, Reading reading, ReadOnlyMemory<byte> utf8Json, long receivedTimestamp, DateTimeOffset? recordTimestamp)
{
    /// <summary>Process-wide, strictly increasing; used to stitch replay and live without gap or duplicate.</summary>
    public long Sequence { get; } = sequence;

    public Reading Reading { get; } = reading;

    public ReadOnlyMemory<byte> Utf8Json { get; } = utf8Json;

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the record was decoded, for latency metrics.</summary>
    public long ReceivedTimestamp { get; } = receivedTimestamp;

    /// <summary>The Kafka record's timestamp (producer CreateTime); delivery latency is measured from it.</summary>
    public DateTimeOffset? RecordTimestamp { get; } = recordTimestamp;

    private long _ringIndex = -1;
    private bool _superseded;

    /// <summary>Position in the broadcaster's ring; set once when published (a frame is published once).</summary>
    internal long RingIndex
    {
        get => Volatile.Read(ref _ringIndex);
        set => Volatile.Write(ref _ringIndex, value);
    }

    /// <summary>True once a newer reading from the same meter and channel was published.</summary>
    internal bool Superseded
    {
        get => Volatile.Read(ref _superseded);
        set => Volatile.Write(ref _superseded, value);
    }

    // Another protocol's rendering of this frame (the /ws/energy envelope); null until first needed.
    private byte[]? _alternate;

    /// <summary>
    /// This frame in another protocol's envelope, rendered by the first client that needs it and
    /// shared by every other one. Two writers racing may both render; one result is kept.
    /// </summary>
    public byte[] GetAlternate(Func<ReadingFrame, byte[]> render)
    {
        ArgumentNullException.ThrowIfNull(render);
        var cached = Volatile.Read(ref _alternate);
        if (cached is not null)
        {
            return cached;
        }

        var rendered = render(this);
        return Interlocked.CompareExchange(ref _alternate, rendered, null) ?? rendered;
    }
}
