using System.Collections.Concurrent;
using System.Collections.Frozen;
using EnergyWs.Readings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Freshness;

/// <summary>
/// When each stream, and each device of it, last had a record, and whether that is longer ago than
/// the stream's StaleAfter: the alarm for data that stops arriving.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Observe"/> is called for every reading, on the consumer thread: a dictionary lookup
/// and an interlocked store, no allocation except once for each new device. <see cref="Check"/>
/// runs periodically on another thread and is the only place staleness is decided, logged and
/// raised as <see cref="Changed"/>; <see cref="Snapshot"/> reports what the last check decided.
/// </para>
/// <para>
/// A stream is stale when none of its records (with or without a device) arrived for longer than
/// its StaleAfter; a device, when none of its own did. While a whole stream is stale its devices'
/// changes are still raised but not logged one by one: a sink that stops is one warning, not one per
/// meter. When the stream is live again, each device still silent is logged then.
/// </para>
/// </remarks>
internal sealed class FreshnessTracker
{
    /// <summary>
    /// Devices tracked per stream; readings of further devices move only the stream's series. A
    /// site has tens of meters; the bound is against a producer inventing device ids, and keeps
    /// five streams' series (1 + 100 each) within the exporter's 512 points per instrument
    /// (MetricsExtensions.MaxPointsPerInstrument), so no series is dropped from a scrape.
    /// </summary>
    public const int MaxDevicesPerStream = 100;

    private const long Never = long.MinValue;

    private readonly FrozenDictionary<string, StreamEntry> _streams;
    private readonly StreamEntry[] _byIndex;
    private readonly StreamEntry[] _ordered;
    private readonly TimeProvider _time;
    private readonly ILogger<FreshnessTracker> _logger;

    // Guards the stale flags and what was logged: Check decides, Snapshot reads. Observe never takes it.
    private readonly Lock _check = new();

    // The first check: a stream that never had a record counts its silence from here.
    private DateTimeOffset? _checkingSince;

    [ActivatorUtilitiesConstructor]
    public FreshnessTracker(StreamCatalog catalog, TimeProvider time, ILogger<FreshnessTracker> logger)
        : this([.. catalog.Streams.Select(s => (s.Name, s.StaleAfter))], time, logger)
    {
    }

    /// <param name="streams">Every stream there will be, in index order, each with its StaleAfter (<see cref="TimeSpan.Zero"/>: never stale).</param>
    public FreshnessTracker(IReadOnlyList<(string Name, TimeSpan StaleAfter)> streams, TimeProvider time, ILogger<FreshnessTracker> logger)
    {
        ArgumentNullException.ThrowIfNull(streams);
        _byIndex = [.. streams.Select(s => new StreamEntry(s.Name, s.StaleAfter))];
        _ordered = [.. _byIndex.OrderBy(s => s.Name, StringComparer.Ordinal)];
        _streams = _byIndex.ToFrozenDictionary(s => s.Name, StringComparer.Ordinal);
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Raised by <see cref="Check"/> (on its thread, after the lock is released) for each stream or
    /// device that turned stale or live again. A handler that throws is logged; the others still run.
    /// </summary>
    public event Action<FreshnessChange>? Changed;

    /// <summary>A record of <paramref name="stream"/> (from <paramref name="device"/>, if it has one) arrived at <paramref name="at"/>.</summary>
    /// <exception cref="ArgumentException">The stream was not named at construction (a bug in the caller).</exception>
    public void Observe(string stream, string? device, DateTimeOffset at)
    {
        if (!_streams.TryGetValue(stream, out var entry))
        {
            throw new ArgumentException($"Stream '{stream}' is not tracked.", nameof(stream));
        }

        Observe(entry, device, at);
    }

    /// <summary>A record of the stream with catalog index <paramref name="stream"/> arrived: the consumer thread's call, an array index rather than a lookup.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No stream has that index (a bug in the caller).</exception>
    public void Observe(int stream, string? device, DateTimeOffset at)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stream);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(stream, _byIndex.Length);
        Observe(_byIndex[stream], device, at);
    }

    private void Observe(StreamEntry entry, string? device, DateTimeOffset at)
    {
        var stream = entry.Name;
        var ms = at.ToUnixTimeMilliseconds();
        StoreMax(ref entry.Last, ms);
        if (device is null)
        {
            return;
        }

        if (!entry.Devices.TryGetValue(device, out var known))
        {
            known = entry.Add(device, ms);
            if (known is null)
            {
                if (!entry.FullReported)
                {
                    entry.FullReported = true;
                    _logger.DevicesBeyondBound(stream, MaxDevicesPerStream, device);
                }

                return;
            }
        }

        StoreMax(ref known.Last, ms);
    }

    /// <summary>Decides which streams and devices are stale now; logs and raises each change.</summary>
    public void Check()
    {
        List<FreshnessChange>? changes = null;
        lock (_check)
        {
            var now = _time.GetUtcNow();
            _checkingSince ??= now;
            foreach (var stream in _ordered)
            {
                Check(stream, now, ref changes);
            }
        }

        if (changes is null || Changed is not { } handlers)
        {
            return;
        }

        foreach (var change in changes)
        {
            foreach (var handler in handlers.GetInvocationList().Cast<Action<FreshnessChange>>())
            {
                try
                {
                    handler(change);
                }
#pragma warning disable CA1031 // A subscriber's bug must not stop the checks or the other subscribers.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _logger.ChangeHandlerFailed(ex, change.Stream);
                }
            }
        }
    }

    /// <summary>Every stream with its devices (ordered by name), stale as of the last check.</summary>
    public IReadOnlyList<StreamState> Snapshot()
    {
        lock (_check)
        {
            var streams = new StreamState[_ordered.Length];
            for (var i = 0; i < _ordered.Length; i++)
            {
                var stream = _ordered[i];
                var devices = stream.Devices.Values
                    .OrderBy(d => d.Name, StringComparer.Ordinal)
                    .Select(d => new DeviceState(d.Name, FromMs(Volatile.Read(ref d.Last))!.Value, d.Stale))
                    .ToList();
                streams[i] = new StreamState(stream.Name, stream.StaleAfter, FromMs(Volatile.Read(ref stream.Last)), stream.Stale, devices);
            }

            return streams;
        }
    }

    private void Check(StreamEntry stream, DateTimeOffset now, ref List<FreshnessChange>? changes)
    {
        var last = Volatile.Read(ref stream.Last);
        var lastAt = FromMs(last);
        var silence = now - (lastAt ?? _checkingSince!.Value);
        var stale = stream.Alarmed && silence > stream.StaleAfter;
        if (stale != stream.Stale)
        {
            stream.Stale = stale;
            if (stale)
            {
                stream.StaleSince = lastAt ?? _checkingSince!.Value;
                if (lastAt is { } at)
                {
                    _logger.StreamStale(stream.Name, silence, at, stream.StaleAfter);
                }
                else
                {
                    _logger.StreamNeverSeen(stream.Name, silence, stream.StaleAfter);
                }
            }
            else
            {
                // From the last record before the silence to the newest now: the gap, give or take
                // the records that came since the record that ended it (at most one check interval).
                _logger.StreamLive(stream.Name, lastAt!.Value - stream.StaleSince);
            }

            (changes ??= []).Add(new FreshnessChange(stream.Name, null, stale, lastAt, now));
        }

        foreach (var device in stream.Devices.Values)
        {
            var deviceLast = FromMs(Volatile.Read(ref device.Last))!.Value;
            var deviceSilence = now - deviceLast;
            var deviceStale = stream.Alarmed && deviceSilence > stream.StaleAfter;
            if (deviceStale != device.Stale)
            {
                device.Stale = deviceStale;
                if (deviceStale)
                {
                    device.StaleSince = deviceLast;
                }

                (changes ??= []).Add(new FreshnessChange(stream.Name, device.Name, deviceStale, deviceLast, now));
            }

            // While the whole stream is stale its line covers every device; once it is live,
            // each device's state is logged if it differs from what its last line said.
            if (!stream.Stale && device.Reported != device.Stale)
            {
                if (device.Stale)
                {
                    _logger.DeviceStale(device.Name, stream.Name, deviceSilence, deviceLast, stream.StaleAfter);
                }
                else
                {
                    _logger.DeviceLive(device.Name, stream.Name, deviceLast - device.StaleSince);
                }

                device.Reported = device.Stale;
            }
        }
    }

    private static DateTimeOffset? FromMs(long ms) => ms == Never ? null : DateTimeOffset.FromUnixTimeMilliseconds(ms);

    // One consumer thread writes a stream today; the compare-exchange keeps the newest arrival
    // should a stream ever be fed from more than one, and a rebuilt record older than what is
    // known never moves it back.
    private static void StoreMax(ref long location, long value)
    {
        var current = Volatile.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private sealed class StreamEntry(string name, TimeSpan staleAfter)
    {
        private int _deviceCount;

        public string Name { get; } = name;

        public TimeSpan StaleAfter { get; } = staleAfter;

        /// <summary>False for StaleAfter 00:00:00: its arrivals are still exported, it is never stale.</summary>
        public bool Alarmed => StaleAfter > TimeSpan.Zero;

        /// <summary>Unix milliseconds of the newest arrival, <see cref="Never"/> until the first.</summary>
        public long Last = Never;

        /// <summary>Written by the consumer thread, read by checks and scrapes.</summary>
        public ConcurrentDictionary<string, DeviceEntry> Devices { get; } = new(StringComparer.Ordinal);

        /// <summary>The bound was logged (consumer thread only).</summary>
        public bool FullReported { get; set; }

        // Under the check lock:
        public bool Stale { get; set; }

        public DateTimeOffset StaleSince { get; set; }

        /// <summary>A new device's entry, or null when the stream already tracks <see cref="MaxDevicesPerStream"/>.</summary>
        public DeviceEntry? Add(string device, long firstMs)
        {
            if (_deviceCount >= MaxDevicesPerStream)
            {
                return null;
            }

            // Counted here rather than by Devices.Count, which takes every lock of the dictionary.
            var entry = Devices.GetOrAdd(device, static (name, ms) => new DeviceEntry(name, ms), firstMs);
            Interlocked.Increment(ref _deviceCount);
            return entry;
        }
    }

    private sealed class DeviceEntry(string name, long firstMs)
    {
        public string Name { get; } = name;

        /// <summary>Unix milliseconds of the newest arrival; a check never sees an entry without one.</summary>
        public long Last = firstMs;

        // Under the check lock:
        public bool Stale { get; set; }

        public DateTimeOffset StaleSince { get; set; }

        /// <summary>Whether the last line logged for it said stale.</summary>
        public bool Reported { get; set; }
    }
}
