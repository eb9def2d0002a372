using System.Diagnostics.Metrics;
using System.Text;
using EnergyWs.History;
using EnergyWs.Kafka;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.History;

/// <summary>The history's bounds, on a fake clock: records go in through the real pipeline.</summary>
public sealed class ReadingHistoryTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(Now);
    private long _offset;

    [Fact]
    public void Append_ReadingOlderThanWindow_IsNotKeptButIsLatest()
    {
        var (pipeline, history) = Create(window: TimeSpan.FromHours(1), maxReadings: 100);
        Process(pipeline, Now.AddHours(-2), 1);

        Assert.Equal(0, history.Count);
        Assert.Single(history.Latest(ClientSelection.All).Frames);
    }

    [Fact]
    public void Query_AfterTheWindowPasses_ReadingsExpire()
    {
        var (pipeline, history) = Create(window: TimeSpan.FromMinutes(10), maxReadings: 100);
        Process(pipeline, Now.AddMinutes(-9), 1);
        Process(pipeline, Now.AddMinutes(-1), 2);
        Assert.Equal(2, history.Query(ClientSelection.All, null, null, 100).Frames.Count);

        _time.Advance(TimeSpan.FromMinutes(2));

        var left = history.Query(ClientSelection.All, null, null, 100).Frames;
        Assert.Equal(2, Assert.Single(left).Reading.PowerW);

        // The next append also evicts the expired frame from memory.
        Process(pipeline, Now.AddMinutes(1), 3);
        Assert.Equal(2, history.Count);
    }

    [Fact]
    public void Append_BeyondMaxReadings_DropsTheOldest()
    {
        var (pipeline, history) = Create(window: TimeSpan.FromDays(1), maxReadings: 1500);
        for (var i = 0; i < 2000; i++)
        {
            Process(pipeline, Now.AddSeconds(-3000 + i), i);
        }

        var frames = history.Query(ClientSelection.All, null, null, int.MaxValue).Frames;
        Assert.Equal(1500, frames.Count);
        Assert.Equal(Enumerable.Range(500, 1500).Select(i => (double?)i), frames.Select(f => f.Reading.PowerW));
    }

    [Fact]
    public void Query_SinceIsExclusiveUntilInclusive_AndTruncationKeepsTheNewest()
    {
        var (pipeline, history) = Create(window: TimeSpan.FromDays(1), maxReadings: 100);
        for (var i = 0; i < 10; i++)
        {
            Process(pipeline, Now.AddSeconds(-100 + i), i);
        }

        var between = history.Query(ClientSelection.All, Now.AddSeconds(-98), Now.AddSeconds(-95), 100);
        Assert.Equal([3.0, 4.0, 5.0], between.Frames.Select(f => f.Reading.PowerW!.Value));
        Assert.False(between.Truncated);

        var capped = history.Query(ClientSelection.All, null, null, 4);
        Assert.True(capped.Truncated);
        Assert.Equal([6.0, 7.0, 8.0, 9.0], capped.Frames.Select(f => f.Reading.PowerW!.Value));
        Assert.Equal(capped.Frames[^1].Sequence, capped.ThroughSequence);
    }

    [Fact]
    public void CountInRange_CountsWhatAQueryForTheRangeFinds_WrappedRingAndOutOfOrderStampsIncluded()
    {
        var (pipeline, history) = Create(window: TimeSpan.FromHours(1), maxReadings: 1500);
        for (var i = 0; i < 2000; i++)
        {
            // Every tenth reading's meter clock lags a minute: stamps are not in append order.
            Process(pipeline, Now.AddSeconds(-2000 + i - (i % 10 == 0 ? 60 : 0)), i);
        }

        foreach (var after in new DateTimeOffset?[] { null, Now.AddSeconds(-1800), Now.AddSeconds(-5), Now })
        {
            var expected = history.Query(ClientSelection.All, after, null, int.MaxValue).Frames.Count;
            Assert.Equal(expected, history.CountInRange(after, until: null));
        }

        Assert.Equal(history.Count, history.CountInRange(null, null));
        Assert.Equal(0, history.CountInRange(Now, null));
    }

    [Fact]
    public void Latest_KeepsOneFramePerDeviceAndChannel_InSequenceOrder()
    {
        var (_, history) = Create(window: TimeSpan.FromDays(1), maxReadings: 100);
        history.Append(Frame(1, "a", "0", 1));
        history.Append(Frame(2, "b", "0", 2));
        history.Append(Frame(3, "a", "1", 3));
        history.Append(Frame(4, "a", "0", 4));

        Assert.Equal([2L, 3, 4], history.Latest(ClientSelection.All).Frames.Select(f => f.Sequence));
        var onlyA = new ClientSelection(new HashSet<string> { "a" }, null);
        Assert.Equal([3L, 4], history.Latest(onlyA).Frames.Select(f => f.Sequence));
        Assert.Equal([3L, 4], history.Query(onlyA, Now.AddSeconds(-3), null, 100).Frames.Select(f => f.Sequence));
    }

    [Theory]
    [InlineData("History:Window", 0, 100, 100)]
    [InlineData("History:Window", 32 * 24, 100, 100)]
    [InlineData("History:MaxReadings", 1, 0, 100)]
    [InlineData("History:MaxApiReadings", 1, 100, 0)]
    public void Options_OutOfRange_FailValidationNamingTheSetting(string setting, int windowHours, int maxReadings, int maxApiReadings)
    {
        var options = new HistoryOptions { Window = TimeSpan.FromHours(windowHours), MaxReadings = maxReadings, MaxApiReadings = maxApiReadings };
        var result = new HistoryOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        // The generated validator keeps our message for TimeSpanRange but words Range itself; both name the property.
        Assert.Contains(setting.Split(':')[1], result.FailureMessage, StringComparison.Ordinal);
    }

    public void Dispose() => _services.Dispose();

    internal static ReadingFrame Frame(long sequence, string? device, string? channel, double power, DateTimeOffset? at = null)
    {
        var reading = new Reading { Timestamp = at ?? Now.AddSeconds(-5 + sequence), PowerW = power, Device = device, Channel = channel };
        return new ReadingFrame(sequence, reading, ReadingJson.Serialize(reading), 0, null);
    }

    private (ReadingPipeline Pipeline, ReadingHistory History) Create(TimeSpan window, int maxReadings)
    {
        var metrics = new ReadingMetrics(_services.GetRequiredService<IMeterFactory>());
        var history = new ReadingHistory(Options.Create(new HistoryOptions { Window = window, MaxReadings = maxReadings }), _time);
        var pipeline = new ReadingPipeline(
            StreamCatalog.EnergyOnly("t"),
            new RecordDecoder(Options.Create(new ReadingsOptions()), metrics, _time, NullLogger<RecordDecoder>.Instance),
            new JsonStreamDecoder(Options.Create(new ReadingsOptions()), _time),
            history,
            new Broadcaster(Microsoft.Extensions.Options.Options.Create(new StreamingOptions())),
            [],
            metrics,
            _time,
            NullLogger<ReadingPipeline>.Instance);
        return (pipeline, history);
    }

    private void Process(ReadingPipeline pipeline, DateTimeOffset timestamp, int power)
    {
        var json = $"{{\"timestamp\":\"{timestamp.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}\",\"power_w\":{power}}}";
        pipeline.Process(new KafkaRecord("t", 0, _offset++, null, Encoding.UTF8.GetBytes(json), null, null), live: false);
    }
}
