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
    StreamCatalog catalog,
    IRecordDecoder decoder,
    JsonStreamDecoder jsonDecoder,
    ReadingHistory history,
    Broadcaster broadcaster,
    IEnumerable<IReadingSink> sinks,
    ReadingMetrics metrics,
    TimeProvider timeProvider,
    ILogger<ReadingPipeline> logger)
{
    // At most one line per interval for each kind of failure; the rest are counted in the next one.
    private readonly LogThrottle _skips = new(timeProvider, LogThrottle.DefaultInterval);
    private readonly LogThrottle _failures = new(timeProvider, LogThrottle.DefaultInterval);
    private readonly LogThrottle _publishFailures = new(timeProvider, LogThrottle.DefaultInterval);
    private readonly IReadingSink[] _sinks = [.. sinks];
    private readonly List<Reading> _scratch = new(8);
    private long _sequence;

    /// <summary>Decodes and publishes one record of its topic's stream; <paramref name="live"/> false means history rebuild only.</summary>
    public void Process(in KafkaRecord record, bool live = true)
    {
        _scratch.Clear();
        if (!catalog.TryGetByTopic(record.Topic, out var stream))
        {
            // The consumer reads the catalog's topics only; a record of another is counted under energy.
            metrics.RecordInvalid(DecodeReasons.UnknownTopic, catalog.Energy.Name);
            LogSkipped(record, DecodeReasons.UnknownTopic);
            return;
        }

        byte[]? json = null;
        DecodeResult result;
        try
        {
            if (stream.Format == StreamFormat.Energy)
            {
                result = decoder.Decode(record, _scratch);
            }
            else
            {
                result = jsonDecoder.Decode(record, stream, out var reading, out json);
                if (reading is not null)
                {
                    _scratch.Add(reading);
                }
            }
        }
#pragma warning disable CA1031 // A decoder bug must cost one record, not the consumer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // Only a last resort: every known bad input is a reason of its own. A producer that keeps
            // hitting such a bug still costs one stack trace per interval, not one per record.
            if (_failures.ShouldLog(out var suppressed))
            {
                logger.DecoderFailed(ex, record.Topic, record.Partition, record.Offset, suppressed);
            }

            result = DecodeResult.Invalid(DecodeReasons.DecoderError);
            _scratch.Clear();
        }

        if (!result.Ok)
        {
            metrics.RecordInvalid(result.Reason ?? "unknown", stream.Name);
            LogSkipped(record, result.Reason ?? "unknown");
            return;
        }

        try
        {
            var now = timeProvider.GetTimestamp();
            // The record itself, for /ws/energy's data: only live (a rebuilt frame goes to no live
            // client) and only a JSON object (the original passed objects; a plain number is not one).
            var raw = live && JsonValues.IsObject(record.Value) ? record.Value : null;
            foreach (var reading in _scratch)
            {
                // A json stream's frame names its stream already; a reading gets the name on demand.
                var frame = json is null
                    ? new ReadingFrame(++_sequence, reading, ReadingJson.Serialize(reading), now, record.Timestamp, stream.NamedPrefix, raw)
                    : new ReadingFrame(++_sequence, reading, json, now, record.Timestamp, record: raw);

                // History before broadcast: a client's replay takes a history snapshot after its
                // ring start, and the ring gives it only frames from that start on; every frame the
                // ring can give it is then already in the history, so nothing falls between the two.
                history.Append(frame);
                foreach (var sink in _sinks)
                {
                    sink.Accept(frame, live);
                }

                if (live)
                {
                    broadcaster.Publish(frame);
                    metrics.ReadingPublished(stream.Name);
                }
            }
        }
#pragma warning disable CA1031 // Serializing, history or fan-out failing must cost one record, not reach the consumer loop once per record.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (_publishFailures.ShouldLog(out var suppressed))
            {
                logger.PublishFailed(ex, record.Topic, record.Partition, record.Offset, suppressed);
            }

            metrics.RecordInvalid(DecodeReasons.PublishError, stream.Name);
            return;
        }

        metrics.RecordOk(stream.Name);
    }

    private void LogSkipped(in KafkaRecord record, string reason)
    {
        if (_skips.ShouldLog(out var suppressed))
        {
            logger.RecordSkipped(record.Topic, record.Partition, record.Offset, reason, suppressed);
        }
    }
}
