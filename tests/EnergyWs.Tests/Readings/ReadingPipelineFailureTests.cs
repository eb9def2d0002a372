using System.Diagnostics.Metrics;
using System.Text;
using EnergyWs.History;
using EnergyWs.Kafka;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Readings;

/// <summary>
/// A bug in decoding or in publishing a record costs that record only: counted by reason, logged at
/// most once per interval with how many were held back, and the records after it still flow.
/// </summary>
public sealed class ReadingPipelineFailureTests : IDisposable
{
    private const string Good = """{"timestamp":"2026-03-01T12:00:00Z","power_w":5}""";

    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly TestDecoder _decoder = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeLogger<ReadingPipeline> _logger = new();
    private readonly Broadcaster _broadcaster = new(Options.Create(new StreamingOptions()));
    private readonly List<Action<ReadingFrame>> _onFrame = [];
    private long _offset;

    [Fact]
    public void DecoderThrows_LoggedOncePerIntervalWithSuppressedCount_LaterRecordsPublished()
    {
        var pipeline = Create(new ThrowingOn("boom", _decoder.Decoder));
        using var errors = new MetricCollector<long>(_services.GetRequiredService<IMeterFactory>(), ReadingMetrics.MeterName, "energyws_decode_errors_total");

        AssertFailuresThrottled(pipeline, eventId: 2002, errors, DecodeReasons.DecoderError, process: () => Process(pipeline, "boom"));
    }

    [Fact]
    public void PublishFails_LoggedOncePerIntervalWithSuppressedCount_LaterRecordsPublished()
    {
        using var errors = new MetricCollector<long>(_services.GetRequiredService<IMeterFactory>(), ReadingMetrics.MeterName, "energyws_decode_errors_total");
        var failNext = false;

        // A sink runs where the history does; a bug in either (or in serializing, or in the fan-out) is the same failure.
        _onFrame.Add(_ =>
        {
            if (failNext)
            {
                throw new InvalidOperationException("publish bug");
            }
        });

        var pipeline = Create(_decoder.Decoder);
        AssertFailuresThrottled(pipeline, eventId: 2005, errors, DecodeReasons.PublishError, process: () =>
        {
            failNext = true;
            try
            {
                Process(pipeline, Good);
            }
            finally
            {
                failNext = false;
            }
        });
    }

    public void Dispose()
    {
        _decoder.Dispose();
        _services.Dispose();
    }

    private void AssertFailuresThrottled(ReadingPipeline pipeline, int eventId, MetricCollector<long> errors, string reason, Action process)
    {
        var published = 0;
        _onFrame.Add(_ => published++);

        // Five failures within one interval: one line. A good record between them still gets through.
        for (var i = 0; i < 5; i++)
        {
            process();
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Process(pipeline, Good);
        Assert.Equal(1, published);
        Assert.Equal(1, _broadcaster.Head);
        Assert.Single(Logged(eventId));

        // The next interval: one more line, saying how many were held back.
        _time.Advance(Interval);
        process();
        process();
        var lines = Logged(eventId);
        Assert.Equal(2, lines.Count);
        Assert.Equal("4", lines[1].StructuredState!.Single(p => p.Key == "Suppressed").Value);

        // Every failure counted, under its own reason.
        Assert.Equal(7, errors.GetMeasurementSnapshot().Where(m => Equals(m.Tags["reason"], reason)).Sum(m => m.Value));

        Process(pipeline, Good);
        Assert.Equal(2, published);
    }

    private List<FakeLogRecord> Logged(int eventId) => [.. _logger.Collector.GetSnapshot().Where(r => r.Id.Id == eventId)];

    private ReadingPipeline Create(IRecordDecoder decoder) => new(
        StreamCatalog.EnergyOnly("energy"),
        decoder,
        new JsonStreamDecoder(Options.Create(new ReadingsOptions()), _time),
        new ReadingHistory(Options.Create(new HistoryOptions()), _time),
        _broadcaster,
        [new FrameSink(frame => _onFrame.ForEach(action => action(frame)))],
        new ReadingMetrics(_services.GetRequiredService<IMeterFactory>()),
        _time,
        _logger);

    private void Process(ReadingPipeline pipeline, string value) =>
        pipeline.Process(TestDecoder.Record(null, value, offset: _offset++));

    /// <summary>The real decoder, except that it fails (a stand-in for any decoder bug) on one payload.</summary>
    private sealed class ThrowingOn(string payload, IRecordDecoder inner) : IRecordDecoder
    {
        public DecodeResult Decode(in KafkaRecord record, ICollection<Reading> output)
        {
            if (record.Value is { } value && Encoding.UTF8.GetString(value) == payload)
            {
                output.Add(new Reading { Timestamp = DateTimeOffset.UnixEpoch, PowerW = 1 });
                throw new InvalidOperationException("decoder bug");
            }

            return inner.Decode(record, output);
        }
    }
}
