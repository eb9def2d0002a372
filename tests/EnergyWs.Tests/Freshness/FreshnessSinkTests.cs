using EnergyWs.Freshness;
using EnergyWs.Kafka;
using EnergyWs.Readings;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Freshness;

public sealed class FreshnessSinkTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FreshnessTracker _tracker;
    private readonly FreshnessSink _sink;

    public FreshnessSinkTests()
    {
        _tracker = new FreshnessTracker(StreamCatalog.EnergyOnly("homelab.energy"), _time, NullLogger<FreshnessTracker>.Instance);
        _sink = new FreshnessSink(_tracker, _time);
    }

    [Fact]
    public void Live_CountsArrivalByTheServiceClock_NotTheMeterOrProducerClock()
    {
        var wrong = _time.GetUtcNow() - TimeSpan.FromDays(3);
        _sink.Accept(Frame("em-a", readingAt: wrong, producedAt: wrong), live: true);

        Assert.Equal(_time.GetUtcNow(), Device("em-a"));
        Assert.Equal(_time.GetUtcNow(), _tracker.Snapshot().Single().LastRecord);
    }

    [Fact]
    public void Rebuilt_CountsWhenTheRecordWasProduced_SoASilentMeterStaysSilentAcrossARestart()
    {
        var produced = _time.GetUtcNow() - TimeSpan.FromDays(9);
        _sink.Accept(Frame("em-a", readingAt: _time.GetUtcNow(), producedAt: produced), live: false);

        Assert.Equal(produced, Device("em-a"));
        _tracker.Check();
        Assert.True(_tracker.Snapshot().Single().Stale);
    }

    [Fact]
    public void Rebuilt_ProducedInTheFuture_CountsAsNow()
    {
        _sink.Accept(Frame("em-a", readingAt: _time.GetUtcNow(), producedAt: _time.GetUtcNow() + TimeSpan.FromDays(1)), live: false);

        Assert.Equal(_time.GetUtcNow(), Device("em-a"));
    }

    [Fact]
    public void Rebuilt_WithoutRecordTimestamp_IsNotCounted()
    {
        _sink.Accept(Frame("em-a", readingAt: _time.GetUtcNow(), producedAt: null), live: false);

        var stream = _tracker.Snapshot().Single();
        Assert.Null(stream.LastRecord);
        Assert.Empty(stream.Devices);
    }

    [Fact]
    public void Live_WithoutDevice_MovesOnlyTheStream()
    {
        _sink.Accept(Frame(null, readingAt: _time.GetUtcNow(), producedAt: null), live: true);

        var stream = _tracker.Snapshot().Single();
        Assert.Equal("energy", stream.Stream);
        Assert.Equal(_time.GetUtcNow(), stream.LastRecord);
        Assert.Empty(stream.Devices);
    }

    private DateTimeOffset Device(string device) => _tracker.Snapshot().Single().Devices.Single(d => d.Device == device).LastRecord;

    private ReadingFrame Frame(string? device, DateTimeOffset readingAt, DateTimeOffset? producedAt) =>
        new(1, new Reading { Timestamp = readingAt, PowerW = 1, Device = device }, "{}"u8.ToArray(), _time.GetTimestamp(), producedAt);
}
