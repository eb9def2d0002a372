using System.Collections.Concurrent;
using EnergyWs.Readings;
using Microsoft.Extensions.Options;

namespace EnergyWs.History;

/// <summary>What a reader of the history got: the frames, and the newest sequence the history held then.</summary>
/// <param name="Frames">Matching frames, oldest first (in sequence order).</param>
/// <param name="ThroughSequence">
/// Every frame the history kept up to this sequence was considered, matching or not.
/// </param>
/// <param name="Truncated">More frames matched than were allowed; the oldest were left out.</param>
internal readonly record struct HistorySnapshot(List<ReadingFrame> Frames, long ThroughSequence, bool Truncated);

/// <summary>
/// Recent readings in memory: a ring of frames in sequence order, bounded by
/// <see cref="HistoryOptions.Window"/> and <see cref="HistoryOptions.MaxReadings"/>, and the latest
/// frame per device/channel.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Append"/> runs on the consumer thread alone (called by the reading pipeline
/// before the broadcaster sees the frame, for live and rebuilt records alike); readers run on
/// request threads and never take a lock the writer takes, so a reader scanning the whole history
/// cannot delay the consumer. Appending is O(1) and allocates only when the ring grows or a new
/// device/channel appears.
/// </para>
/// <para>
/// Invariants a reader relies on: frame for logical index i (0, 1, 2, … in append order, so in
/// sequence order) lives at <c>_ring.Frames[i % _ring.Length]</c>, its timestamp at the same
/// position of <c>_ring.Ticks</c>, for i in [_oldest, _next). The writer stores the timestamp,
/// then the frame, before it publishes <see cref="_next"/>, publishes grown arrays before any
/// append beyond the old one's length, and publishes <see cref="_lastSequence"/> last. A reader
/// walks newest → oldest by the timestamps alone and reads a frame only for a stamp in range. A
/// reused slot whose new stamp is out of range is just passed over; a slot in range that the
/// writer has since cleared (null) or reused for a newer frame (its sequence not below the last
/// one taken) ends the walk: everything older was being dropped anyway, which is the same answer
/// a moment later. A writer that laps the whole ring between the reader's read of
/// <see cref="_next"/> and its walk (possible only with a tiny <see cref="HistoryOptions.MaxReadings"/>)
/// could leave it nothing: <see cref="Query"/> then walks once more from the new end.
/// </para>
/// </remarks>
internal sealed class ReadingHistory
{
    private const int InitialCapacity = 1024;

    // The latest frame per meter, for replays of last values and /api/readings/latest: not the
    // decoder's field state nor the broadcaster's supersede marks (see MeterState), bounded like
    // them by MeterLimits.MaxMeters; once full, new meters are not remembered. Written by the
    // consumer thread only; readers enumerate it without locks (a moment-in-time view per key,
    // which is what "latest" means). Updating an existing key does not allocate.
    private readonly ConcurrentDictionary<(int Stream, string? Device, string? Channel), ReadingFrame> _latest = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;
    private readonly int _maxReadings;

    private Slots _ring;
    private long _oldest;
    private long _next;
    private long _lastSequence;
    private int _latestCount;

    public ReadingHistory(IOptions<HistoryOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _time = time;
        _window = options.Value.Window;
        _maxReadings = options.Value.MaxReadings;
        _ring = new Slots(Math.Min(InitialCapacity, _maxReadings));
    }

    /// <summary>Frames held now.</summary>
    public int Count => (int)(Volatile.Read(ref _next) - Volatile.Read(ref _oldest));

    /// <summary>Device/channel pairs with a latest frame now.</summary>
    public int LatestCount => Volatile.Read(ref _latestCount);

    /// <summary>The most frames the history holds (<see cref="HistoryOptions.MaxReadings"/>).</summary>
    public int MaxReadings => _maxReadings;

    /// <summary>Adds a frame (consumer thread only). Frames older than the window are not kept, but still count as latest.</summary>
    public void Append(ReadingFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var cutoff = _time.GetUtcNow() - _window;
        var key = (frame.Reading.Stream, frame.Reading.Device, frame.Reading.Channel);
        if (_latest.ContainsKey(key))
        {
            _latest[key] = frame;
        }
        else if (_latestCount < MeterLimits.MaxMeters && _latest.TryAdd(key, frame))
        {
            Volatile.Write(ref _latestCount, _latestCount + 1);
        }

        // Expire from the oldest end. Timestamps are not strictly ordered (partitions, meter
        // clocks), so an old frame behind a newer one waits; readers filter by time anyway.
        var ring = _ring;
        while (_oldest < _next && ring.Frames[_oldest % ring.Length]!.Reading.Timestamp <= cutoff)
        {
            RemoveOldest(ring);
        }

        if (frame.Reading.Timestamp > cutoff)
        {
            if (_next - _oldest == ring.Length)
            {
                if (ring.Length < _maxReadings)
                {
                    ring = Grow(ring);
                }
                else
                {
                    RemoveOldest(ring);
                }
            }

            var position = (int)(_next % ring.Length);
            Volatile.Write(ref ring.Ticks[position], frame.Reading.Timestamp.UtcTicks);
            Volatile.Write(ref ring.Frames[position], frame);
            Volatile.Write(ref _next, _next + 1);
        }

        Volatile.Write(ref _lastSequence, frame.Sequence);
    }

    /// <summary>Frames strictly after <paramref name="after"/> and at or before <paramref name="until"/>, keeping the newest <paramref name="max"/>.</summary>
    public HistorySnapshot Query(ClientSelection selection, DateTimeOffset? after, DateTimeOffset? until, int max)
    {
        ArgumentNullException.ThrowIfNull(selection);
        var snapshot = QueryOnce(selection, after, until, max, out var next, out var ring);

        // Lapped before the walk began (see the remarks): once more, from the new end.
        if (snapshot.Frames.Count == 0 && Volatile.Read(ref _next) - next >= ring.Length)
        {
            snapshot = QueryOnce(selection, after, until, max, out _, out _);
        }

        return snapshot;
    }

    /// <summary>
    /// How many frames the history holds with a timestamp strictly after <paramref name="after"/>
    /// and at or before <paramref name="until"/>, whatever their device: an upper bound on what a
    /// <see cref="Query"/> for that range returns now. Reads the timestamps only, without locks.
    /// </summary>
    public int CountInRange(DateTimeOffset? after, DateTimeOffset? until)
    {
        var (lower, upper) = Bounds(after, until);
        var next = Volatile.Read(ref _next);
        var ring = Volatile.Read(ref _ring);
        var oldest = Math.Max(Volatile.Read(ref _oldest), next - ring.Length);
        var count = 0;
        var position = (int)((next - 1 + ring.Length) % ring.Length);
        for (var i = next - 1; i >= oldest; i--, position = position == 0 ? ring.Length - 1 : position - 1)
        {
            var ticks = Volatile.Read(ref ring.Ticks[position]);
            if (ticks > lower && ticks <= upper)
            {
                count++;
            }
        }

        return count;
    }

    private (long Lower, long Upper) Bounds(DateTimeOffset? after, DateTimeOffset? until)
    {
        var cutoff = _time.GetUtcNow() - _window;
        return ((after is { } a && a > cutoff ? a : cutoff).UtcTicks, until?.UtcTicks ?? long.MaxValue);
    }

    private HistorySnapshot QueryOnce(ClientSelection selection, DateTimeOffset? after, DateTimeOffset? until, int max, out long next, out Slots ring)
    {
        var (lower, upper) = Bounds(after, until);
        var frames = new List<ReadingFrame>();
        var truncated = false;

        // Order matters (see the remarks): the sequence first, then the end, then the array.
        var through = Volatile.Read(ref _lastSequence);
        next = Volatile.Read(ref _next);
        ring = Volatile.Read(ref _ring);
        var oldest = Math.Max(Volatile.Read(ref _oldest), next - ring.Length);
        var previous = long.MaxValue;

        // Newest first, so a truncated answer keeps the most recent readings. The position steps
        // down with the index, wrapping, instead of a 64-bit division per frame.
        var position = (int)((next - 1 + ring.Length) % ring.Length);
        // Timestamps sit in an array of their own, so frames out of the range are passed over
        // without touching them, including a slot the writer has since reused for an out-of-range
        // frame. A stamp in range read from a reused slot belongs to a frame newer than `through`
        // or out of order: the checks below skip it or end the walk.
        for (var i = next - 1; i >= oldest; i--, position = position == 0 ? ring.Length - 1 : position - 1)
        {
            var ticks = Volatile.Read(ref ring.Ticks[position]);
            if (ticks <= lower || ticks > upper)
            {
                continue;
            }

            var frame = Volatile.Read(ref ring.Frames[position]);
            if (frame is null || frame.Sequence >= previous)
            {
                break;
            }

            previous = frame.Sequence;
            var ts = frame.Reading.Timestamp.UtcTicks;
            if (frame.Sequence > through || ts <= lower || ts > upper || !selection.Accepts(frame.Reading))
            {
                continue;
            }

            if (frames.Count == max)
            {
                truncated = true;
                break;
            }

            frames.Add(frame);
        }

        frames.Reverse();
        return new HistorySnapshot(frames, through, truncated);
    }

    /// <summary>The latest frame of every selected device/channel, in sequence order.</summary>
    public HistorySnapshot Latest(ClientSelection selection, int max = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(selection);
        var frames = new List<ReadingFrame>();
        var through = Volatile.Read(ref _lastSequence);
        foreach (var (_, frame) in _latest)
        {
            if (selection.Accepts(frame.Reading))
            {
                // A key updated during the walk gives its newer frame: still one per key.
                through = Math.Max(through, frame.Sequence);
                frames.Add(frame);
            }
        }

        frames.Sort(static (x, y) => x.Sequence.CompareTo(y.Sequence));
        var truncated = frames.Count > max;
        if (truncated)
        {
            frames.RemoveRange(0, frames.Count - max);
        }

        return new HistorySnapshot(frames, through, truncated);
    }

    private void RemoveOldest(Slots ring)
    {
        Volatile.Write(ref ring.Frames[_oldest % ring.Length], null);
        Volatile.Write(ref _oldest, _oldest + 1);
    }

    private Slots Grow(Slots ring)
    {
        // Same logical indices, new positions: a reader still on the old arrays reads the old
        // positions, which the writer no longer touches.
        var grown = new Slots((int)Math.Min((long)ring.Length * 2, _maxReadings));
        for (var i = _oldest; i < _next; i++)
        {
            grown.Frames[i % grown.Length] = ring.Frames[i % ring.Length];
            grown.Ticks[i % grown.Length] = ring.Ticks[i % ring.Length];
        }

        Volatile.Write(ref _ring, grown);
        return grown;
    }

    /// <summary>The ring's frames and, at the same positions, their timestamps (UTC ticks); replaced together when it grows.</summary>
    private sealed class Slots(int length)
    {
        public ReadingFrame?[] Frames { get; } = new ReadingFrame?[length];

        public long[] Ticks { get; } = new long[length];

        public int Length => Frames.Length;
    }
}
