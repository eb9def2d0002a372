using EnergyWs.Freshness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Freshness;

public sealed class FreshnessTrackerTests
{
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(1);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeLogger<FreshnessTracker> _logger = new();

    [Fact]
    public void Check_DeviceSilentLongerThanStaleAfter_WarnsOnceThenInformsWhenItReportsAgain()
    {
        var tracker = Tracker();
        var changes = Changes(tracker);
        var start = _time.GetUtcNow();
        tracker.Observe("energy", "em-a", start);
        tracker.Observe("energy", "em-b", start);

        // em-a keeps reporting; em-b stops.
        Step(tracker, TimeSpan.FromSeconds(30), "em-a");
        Step(tracker, TimeSpan.FromSeconds(30), "em-a");
        Assert.Empty(Events());
        Step(tracker, TimeSpan.FromSeconds(1), "em-a");

        var stale = Assert.Single(Events());
        Assert.Equal((7003, LogLevel.Warning), (stale.Id.Id, stale.Level));
        Assert.Equal("em-b", stale.GetStructuredStateValue("Device"));
        Assert.Equal("energy", stale.GetStructuredStateValue("Stream"));
        Assert.Equal(new FreshnessChange("energy", "em-b", true, start, _time.GetUtcNow()), Assert.Single(changes));

        // Stale stays one line, however long it lasts.
        Step(tracker, TimeSpan.FromMinutes(5), "em-a");
        Assert.Single(Events());

        tracker.Observe("energy", "em-b", _time.GetUtcNow());
        tracker.Check();
        var live = Events()[1];
        Assert.Equal((7004, LogLevel.Information), (live.Id.Id, live.Level));
        Assert.Equal(TimeSpan.FromSeconds(361).ToString(), live.GetStructuredStateValue("Silence"));
        Assert.False(changes[^1].Stale);
        Assert.All(tracker.Snapshot().Single().Devices, d => Assert.False(d.Stale));
    }

    [Fact]
    public void Check_WholeStreamStops_OneStreamWarningNotOnePerDevice_AndDevicesStillSilentAreLoggedWhenItIsLive()
    {
        var tracker = Tracker();
        var changes = Changes(tracker);
        var start = _time.GetUtcNow();
        foreach (var device in new[] { "em-a", "em-b", "em-c" })
        {
            tracker.Observe("energy", device, start);
        }

        tracker.Check();
        _time.Advance(StaleAfter + TimeSpan.FromSeconds(1));
        tracker.Check();

        var stale = Assert.Single(Events());
        Assert.Equal((7001, LogLevel.Warning), (stale.Id.Id, stale.Level));
        Assert.Equal("energy", stale.GetStructuredStateValue("Stream"));
        // Every change is still raised, for the stream and each device.
        Assert.Equal([null, "em-a", "em-b", "em-c"], changes.Select(c => c.Device).Order());
        Assert.All(changes, c => Assert.True(c.Stale));

        // Only em-a comes back: the stream is live, and now the two still silent are news.
        tracker.Observe("energy", "em-a", _time.GetUtcNow());
        tracker.Check();
        var after = Events().Skip(1).Select(e => (e.Id.Id, e.GetStructuredStateValue("Device"))).ToList();
        Assert.Equal((7002, null), after[0]);
        Assert.Equal([(7003, "em-b"), (7003, "em-c")], after.Skip(1).Order());
        var snapshot = tracker.Snapshot().Single();
        Assert.False(snapshot.Stale);
        Assert.Equal([false, true, true], snapshot.Devices.Select(d => d.Stale));
    }

    [Fact]
    public void Check_StreamWithoutAnyRecord_IsStaleStaleAfterAfterTheFirstCheck()
    {
        var tracker = Tracker();
        tracker.Check();
        _time.Advance(StaleAfter);
        tracker.Check();
        Assert.Empty(Events());

        _time.Advance(TimeSpan.FromSeconds(1));
        tracker.Check();
        var stale = Assert.Single(Events());
        Assert.Equal((7005, LogLevel.Warning), (stale.Id.Id, stale.Level));
        Assert.Null(tracker.Snapshot().Single().LastRecord);
        Assert.True(tracker.Snapshot().Single().Stale);

        // A record without a device: the stream is live, and no device appears.
        tracker.Observe("energy", null, _time.GetUtcNow());
        tracker.Check();
        Assert.Equal(7002, Events()[^1].Id.Id);
        Assert.Empty(tracker.Snapshot().Single().Devices);
    }

    [Fact]
    public void Check_EachStreamByItsOwnStaleAfter()
    {
        var tracker = new FreshnessTracker(
            [("energy", TimeSpan.FromMinutes(1)), ("heatpump", TimeSpan.FromMinutes(10))],
            _time,
            _logger);
        tracker.Observe("energy", null, _time.GetUtcNow());
        tracker.Observe("heatpump", "hp-1", _time.GetUtcNow());

        _time.Advance(TimeSpan.FromMinutes(5));
        tracker.Check();

        var states = tracker.Snapshot();
        Assert.Equal(["energy", "heatpump"], states.Select(s => s.Stream));
        Assert.True(states[0].Stale);
        Assert.False(states[1].Stale);
        Assert.Equal(TimeSpan.FromMinutes(10), states[1].StaleAfter);
        Assert.Equal("energy", Assert.Single(Events()).GetStructuredStateValue("Stream"));
    }

    [Fact]
    public void Observe_DevicesBeyondTheBound_MoveOnlyTheStreamAndTheBoundIsLoggedOnce()
    {
        var tracker = Tracker();
        var start = _time.GetUtcNow();
        for (var i = 0; i < FreshnessTracker.MaxDevicesPerStream; i++)
        {
            tracker.Observe("energy", $"em-{i}", start);
        }

        _time.Advance(TimeSpan.FromSeconds(10));
        tracker.Observe("energy", "one-too-many", _time.GetUtcNow());
        tracker.Observe("energy", "two-too-many", _time.GetUtcNow());

        var snapshot = tracker.Snapshot().Single();
        Assert.Equal(FreshnessTracker.MaxDevicesPerStream, snapshot.Devices.Count);
        Assert.DoesNotContain(snapshot.Devices, d => d.Device.EndsWith("too-many", StringComparison.Ordinal));
        Assert.Equal(_time.GetUtcNow(), snapshot.LastRecord);
        var bound = Assert.Single(Events());
        Assert.Equal((7006, "one-too-many"), (bound.Id.Id, bound.GetStructuredStateValue("Device")));
    }

    [Fact]
    public void Observe_OlderThanKnown_DoesNotMoveTheLastRecordBack()
    {
        var tracker = Tracker();
        var now = _time.GetUtcNow();
        tracker.Observe("energy", "em-a", now);
        tracker.Observe("energy", "em-a", now - TimeSpan.FromHours(1));

        var snapshot = tracker.Snapshot().Single();
        Assert.Equal(now, snapshot.LastRecord);
        Assert.Equal(now, snapshot.Devices.Single().LastRecord);
    }

    [Fact]
    public void Observe_UnknownStream_Throws()
    {
        var tracker = Tracker();
        Assert.Throws<ArgumentException>(() => tracker.Observe("plugs", null, _time.GetUtcNow()));
    }

    [Fact]
    public void Changed_HandlerThrows_IsLoggedAndTheOthersStillRun()
    {
        var tracker = Tracker();
        tracker.Changed += _ => throw new InvalidOperationException("handler bug");
        var changes = Changes(tracker);
        tracker.Observe("energy", "em-a", _time.GetUtcNow());
        _time.Advance(StaleAfter + TimeSpan.FromSeconds(1));

        tracker.Check();

        Assert.Equal(2, changes.Count);
        Assert.Equal(2, Events().Count(e => e.Id.Id == 7007 && e.Level == LogLevel.Error));
    }

    [Fact]
    public void Check_StaleAfterZero_ExportsArrivalsButIsNeverStale()
    {
        var tracker = new FreshnessTracker([("energy", StaleAfter), ("plugs", TimeSpan.Zero)], _time, _logger);
        var changes = Changes(tracker);
        tracker.Observe("plugs", "plug-1", _time.GetUtcNow());
        tracker.Check();

        _time.Advance(TimeSpan.FromDays(1));
        tracker.Check();

        var plugs = tracker.Snapshot().Single(s => s.Stream == "plugs");
        Assert.False(plugs.Stale);
        Assert.False(plugs.Devices.Single().Stale);
        Assert.NotNull(plugs.LastRecord);
        Assert.DoesNotContain(changes, c => c.Stream == "plugs");
        Assert.Contains(changes, c => c.Stream == "energy" && c.Stale);
    }

    private FreshnessTracker Tracker() =>
        new([("energy", StaleAfter)], _time, _logger);

    private static List<FreshnessChange> Changes(FreshnessTracker tracker)
    {
        var changes = new List<FreshnessChange>();
        tracker.Changed += changes.Add;
        return changes;
    }

    /// <summary>Time passes, <paramref name="device"/> reports, the tracker checks.</summary>
    private void Step(FreshnessTracker tracker, TimeSpan elapsed, string device)
    {
        _time.Advance(elapsed);
        tracker.Observe("energy", device, _time.GetUtcNow());
        tracker.Check();
    }

    private IReadOnlyList<FakeLogRecord> Events() => _logger.Collector.GetSnapshot();
}
