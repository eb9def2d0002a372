using EnergyWs.History;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Kafka;

/// <summary>
/// The hand-off from the consumer thread: decode, serialize once, append to the history, hand to
/// the sinks, publish to the clients. Never blocks on a client and never throws back into the consumer loop.
/// </summary>
/// <remarks>
/// Called from the single consumer thread only; its scratch state is not shared. It lives in Kafka/
/// because it is the one place that uses Readings/, History/ and Streaming/ together; those
/// import only the ones before them in that order, never Kafka/ (docs/architecture.md).
/// </remarks>
internal sealed class ReadingPipeline(
    IRecordDecoder decoder,
    ReadingHistory history,
    Broadcaster broadcaster,
    IEnumerable<IReadingSink> sinks,
    ReadingMetrics metrics,
    TimeProvider timeProvider,
    ILogger<ReadingPipeline> logger)
{
    /// <summary>At most one skipped-record warning per interval; the rest are counted in the next one.</summary>
    private static readonly TimeSpan SkipLogInterval = TimeSpan.FromSeconds(10);

    private readonly IReadingSink[] _sinks = [.. sinks];
    private readonly List<Reading> _scratch = new(8);
    private long _sequence;
    private long _lastSkipLog = long.MinValue;
    private long _suppressedSkips;
    private long _lastFailureLog = long.MinValue;
    private long _suppressedFailures;
    private long _lastPublishFailureLog = long.MinValue;
    private long _suppressedPublishFailures;

    /// <summary>Decodes and publishes one record; <paramref name="live"/> false means history rebuild only.</summary>
    public void Process(in KafkaRecord record, bool live = true)
    {
        _scratch.Clear();
        DecodeResult result;
        try
        {
            result = decoder.Decode(record, _scratch);
        }
#pragma warning disable CA1031 // A decoder bug must cost one record, not the consumer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // Only a last resort: every known bad input is a reason of its own. A producer that keeps
            // hitting such a bug still costs one stack trace per interval, not one per record.
            if (ShouldLog(ref _lastFailureLog, ref _suppressedFailures, out var suppressed))
            {
                logger.DecoderFailed(ex, record.Topic, record.Partition, record.Offset, suppressed);
            }

            result = DecodeResult.Invalid(DecodeReasons.DecoderError);
            _scratch.Clear();
        }

        if (!result.Ok)
        {
            metrics.RecordInvalid(result.Reason ?? "unknown");
            LogSkipped(record, result.Reason ?? "unknown");
            return;
        }

        try
        {
            var now = timeProvider.GetTimestamp();
            foreach (var reading in _scratch)
            {
                var frame = new ReadingFrame(++_sequence, reading, ReadingJson.Serialize(reading), now, record.Timestamp);

                // History before broadcast: a client's replay takes a history snapshot after its
                // ring start, and the ring gives it only frames from that start on; every frame the
                // ring can give it is then already in the history, so nothing falls between the two.
                history.Append(frame);
                foreach (var sink in _sinks)
                {
                    sink.Accept(frame);
                }

                if (live)
                {
                    broadcaster.Publish(frame);
                    metrics.ReadingPublished();
                }
            }
        }
#pragma warning disable CA1031 // Serializing, history or fan-out failing must cost one record, not reach the consumer loop once per record.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (ShouldLog(ref _lastPublishFailureLog, ref _suppressedPublishFailures, out var suppressed))
            {
                logger.PublishFailed(ex, record.Topic, record.Partition, record.Offset, suppressed);
            }

            metrics.RecordInvalid(DecodeReasons.PublishError);
            return;
        }

        metrics.RecordOk();
    }

    private void LogSkipped(in KafkaRecord record, string reason)
    {
        if (ShouldLog(ref _lastSkipLog, ref _suppressedSkips, out var suppressed))
        {
            logger.RecordSkipped(record.Topic, record.Partition, record.Offset, reason, suppressed);
        }
    }

    /// <summary>True at most once per <see cref="SkipLogInterval"/>; <paramref name="suppressed"/> is how many were held back since.</summary>
    private bool ShouldLog(ref long last, ref long suppressedCount, out long suppressed)
    {
        var now = timeProvider.GetTimestamp();
        if (last != long.MinValue && timeProvider.GetElapsedTime(last, now) < SkipLogInterval)
        {
            suppressedCount++;
            suppressed = 0;
            return false;
        }

        suppressed = suppressedCount;
        suppressedCount = 0;
        last = now;
        return true;
    }
}
