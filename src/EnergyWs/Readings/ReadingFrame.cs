namespace EnergyWs.Readings;

/// <summary>
/// A reading serialized once. The same <see cref="Utf8Json"/> bytes go to every client, to
/// history and to the REST API; nothing downstream serializes the reading again.
/// </summary>
/// <param name="record">
/// The Kafka record's own JSON object, for protocols that pass the record on (/ws/energy's
/// <c>data</c>); null when it is not an object or the frame is rebuilt history. Held only while
/// the broadcaster's ring holds the frame or it is its meter's latest (see <see cref="ReleaseRecord"/>).
/// </param>
/// <param name="namedPrefix">
/// How the named variant starts (<see cref="StreamDefinition.NamedPrefix"/>) when
/// <paramref name="utf8Json"/> is a reading in the seed's format; empty when it already names its
/// stream (a json stream's frame).
/// </param>
internal sealed class ReadingFrame(long sequence, Reading reading, ReadOnlyMemory<byte> utf8Json, long receivedTimestamp, DateTimeOffset? recordTimestamp, ReadOnlyMemory<byte> namedPrefix = default, byte[]? record = null)
{
    /// <summary>The energy stream's prefix, for frames made without a catalog (tests, tools).</summary>
    internal static readonly ReadOnlyMemory<byte> EnergyPrefix = "{\"stream\":\"energy\","u8.ToArray();

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

    private byte[]? _record = record;

    /// <summary>The record's own JSON object while it is held; empty otherwise.</summary>
    public ReadOnlyMemory<byte> Record => Volatile.Read(ref _record);

    /// <summary>
    /// Lets go of the record and of renderings that may contain it, once no live client can be
    /// sent the frame (the ring lapped it) and it is not its meter's latest: a history of a day
    /// of 1-2 KB bridge records would otherwise cost ~150 MB. A later rendering uses the reading.
    /// </summary>
    internal void ReleaseRecord()
    {
        if (Volatile.Read(ref _record) is not null)
        {
            Volatile.Write(ref _record, null);
            Volatile.Write(ref _alternate, null);
        }
    }

    // The named variant of a seed-format frame; null until a client that named streams needs it.
    private byte[]? _named;

    /// <summary>
    /// This frame with a leading <c>"stream":"&lt;name&gt;"</c>, for clients that named streams:
    /// rendered once by the first writer that needs it and shared by every other one.
    /// </summary>
    public ReadOnlyMemory<byte> Named
    {
        get
        {
            if (namedPrefix.IsEmpty)
            {
                return Utf8Json;
            }

            var cached = Volatile.Read(ref _named);
            if (cached is not null)
            {
                return cached;
            }

            // {"timestamp":… becomes {"stream":"energy","timestamp":…: the prefix replaces the brace.
            var json = Utf8Json.Span;
            var named = new byte[namedPrefix.Length + json.Length - 1];
            namedPrefix.Span.CopyTo(named);
            json[1..].CopyTo(named.AsSpan(namedPrefix.Length));
            return Interlocked.CompareExchange(ref _named, named, null) ?? named;
        }
    }

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
