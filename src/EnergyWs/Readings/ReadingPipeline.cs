using EnergyWs.Streaming;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Readings;

/// <summary>
/// The hand-off from the consumer thread: decode, serialize once, publish. Never blocks on a
/// client and never throws back into the consumer loop.
/// </summary>
/// <remarks>Called from the single consumer thread only; its scratch state is not shared.</remarks>
internal sealed class ReadingPipeline(
    RecordDecoder decoder,
    Broadcaster broadcaster,
    ReadingMetrics metrics,
    TimeProvider timeProvider,
    ILogger<ReadingPipeline> logger)
{
    /// <summary>At most one skipped-record warning per interval; the rest are counted in the next one.</summary>
    private static readonly TimeSpan SkipLogInterval = TimeSpan.FromSeconds(10);

    private readonly List<Reading> _scratch = new(8);
    private long _sequence;
    private long _lastSkipLog = long.MinValue;
    private long _suppressedSkips;

    /// <summary>Event raised (on the consumer thread) for each published frame; history hooks in here.</summary>
    public event Action<ReadingFrame>? Published;

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
            logger.DecoderFailed(ex, record.Topic, record.Partition, record.Offset);
            result = DecodeResult.Invalid("decoder_error");
            _scratch.Clear();
        }

        if (!result.Ok)
        {
            metrics.RecordInvalid(result.Reason ?? "unknown");
            LogSkipped(record, result.Reason ?? "unknown");
            return;
        }

        metrics.RecordOk();
        var now = timeProvider.GetTimestamp();
        foreach (var reading in _scratch)
        {
            var frame = new ReadingFrame(++_sequence, reading, ReadingJson.Serialize(reading), now, record.Timestamp);
            Published?.Invoke(frame);
            if (live)
            {
                broadcaster.Publish(frame);
                metrics.ReadingPublished();
            }
        }
    }

    private void LogSkipped(in KafkaRecord record, string reason)
    {
        var now = timeProvider.GetTimestamp();
        if (_lastSkipLog != long.MinValue && timeProvider.GetElapsedTime(_lastSkipLog, now) < SkipLogInterval)
        {
            _suppressedSkips++;
            return;
        }

        logger.RecordSkipped(record.Topic, record.Partition, record.Offset, reason, _suppressedSkips);
        _lastSkipLog = now;
        _suppressedSkips = 0;
    }
}
