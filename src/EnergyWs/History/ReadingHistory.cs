using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.Extensions.Options;

namespace EnergyWs.History;

/// <summary>What a reader of the history got: the frames, and the newest sequence the history held then.</summary>
/// <param name="Frames">Matching frames, oldest first (in sequence order).</param>
/// <param name="ThroughSequence">
/// Every frame up to this sequence was considered, matching or not; live frames at or below it
/// must not be sent again after this snapshot.
/// </param>
/// <param name="Truncated">More frames matched than were allowed; the oldest were left out.</param>
internal readonly record struct HistorySnapshot(List<ReadingFrame> Frames, long ThroughSequence, bool Truncated);

/// <summary>
/// Recent readings in memory: a ring of frames in sequence order, bounded by
/// <see cref="HistoryOptions.Window"/> and <see cref="HistoryOptions.MaxReadings"/>, and the latest
/// frame per device/channel.
/// </summary>
/// <remarks>
/// <see cref="Append"/> runs on the consumer thread (via <see cref="ReadingPipeline.Published"/>,
/// before the broadcaster sees the frame, for live and rebuilt records alike); readers run on
/// request threads. One lock guards the ring and the latest map; appending holds it for O(1) work
/// and allocates only when the ring grows or a new device/channel appears. Readers hold it for one
/// linear scan (≤ MaxReadings references, ~1 ms at 100,000).
/// </remarks>
internal sealed class ReadingHistory : IHostedService
{
    /// <summary>Distinct device/channel pairs remembered for "latest"; guards against a producer inventing ids.</summary>
    internal const int MaxLatestKeys = 10_000;

    private const int InitialCapacity = 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<(string? Device, string? Channel), ReadingFrame> _latest = [];
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;
    private readonly int _maxReadings;

    // Ring: _ring[(_head + i) % _ring.Length] for i in [0, _count) is oldest → newest.
    private ReadingFrame[] _ring;
    private int _head;
    private int _count;
    private long _lastSequence;

    public ReadingHistory(ReadingPipeline pipeline, IOptions<HistoryOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(options);
        _time = time;
        _window = options.Value.Window;
        _maxReadings = options.Value.MaxReadings;
        _ring = new ReadingFrame[Math.Min(InitialCapacity, _maxReadings)];

        // Subscribed at construction: hosted services are all constructed before any starts, so
        // this is in place before the consumer delivers its first (rebuild) record.
        pipeline.Published += Append;
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Adds a frame (consumer thread). Frames older than the window are not kept, but still count as latest.</summary>
    public void Append(ReadingFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var cutoff = _time.GetUtcNow() - _window;
        lock (_gate)
        {
            _lastSequence = frame.Sequence;
            var key = (frame.Reading.Device, frame.Reading.Channel);
            if (_latest.Count < MaxLatestKeys || _latest.ContainsKey(key))
            {
                _latest[key] = frame;
            }

            // Expire from the oldest end. Timestamps are not strictly ordered (partitions, meter
            // clocks), so an old frame behind a newer one waits; readers filter by time anyway.
            while (_count > 0 && _ring[_head].Reading.Timestamp <= cutoff)
            {
                RemoveOldest();
            }

            if (frame.Reading.Timestamp <= cutoff)
            {
                return;
            }

            if (_count == _ring.Length)
            {
                if (_ring.Length < _maxReadings)
                {
                    Grow();
                }
                else
                {
                    RemoveOldest();
                }
            }

            _ring[(_head + _count) % _ring.Length] = frame;
            _count++;
        }
    }

    /// <summary>Frames strictly after <paramref name="after"/> and at or before <paramref name="until"/>, keeping the newest <paramref name="max"/>.</summary>
    public HistorySnapshot Query(ClientSelection selection, DateTimeOffset? after, DateTimeOffset? until, int max)
    {
        ArgumentNullException.ThrowIfNull(selection);
        var cutoff = _time.GetUtcNow() - _window;
        var lower = after is { } a && a > cutoff ? a : cutoff;
        var frames = new List<ReadingFrame>();
        var truncated = false;
        long through;
        lock (_gate)
        {
            through = _lastSequence;

            // Newest first, so a truncated answer keeps the most recent readings.
            for (var i = _count - 1; i >= 0; i--)
            {
                var frame = _ring[(_head + i) % _ring.Length];
                var ts = frame.Reading.Timestamp;
                if (ts <= lower || (until is { } u && ts > u) || !selection.Accepts(frame.Reading))
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
        }

        frames.Reverse();
        return new HistorySnapshot(frames, through, truncated);
    }

    /// <summary>The latest frame of every selected device/channel, in sequence order.</summary>
    public HistorySnapshot Latest(ClientSelection selection)
    {
        ArgumentNullException.ThrowIfNull(selection);
        var frames = new List<ReadingFrame>();
        long through;
        lock (_gate)
        {
            through = _lastSequence;
            foreach (var frame in _latest.Values)
            {
                if (selection.Accepts(frame.Reading))
                {
                    frames.Add(frame);
                }
            }
        }

        frames.Sort(static (x, y) => x.Sequence.CompareTo(y.Sequence));
        return new HistorySnapshot(frames, through, Truncated: false);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void RemoveOldest()
    {
        _ring[_head] = null!;
        _head = (_head + 1) % _ring.Length;
        _count--;
    }

    private void Grow()
    {
        var grown = new ReadingFrame[(int)Math.Min((long)_ring.Length * 2, _maxReadings)];
        for (var i = 0; i < _count; i++)
        {
            grown[i] = _ring[(_head + i) % _ring.Length];
        }

        _ring = grown;
        _head = 0;
    }
}
