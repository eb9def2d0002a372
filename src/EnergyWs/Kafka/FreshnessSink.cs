using EnergyWs.Freshness;
using EnergyWs.Readings;

namespace EnergyWs.Kafka;

/// <summary>Tells the <see cref="FreshnessTracker"/> about every reading, live or rebuilt.</summary>
internal sealed class FreshnessSink(FreshnessTracker tracker, TimeProvider time) : IReadingSink
{
    public void Accept(ReadingFrame frame, bool live)
    {
        var now = time.GetUtcNow();
        DateTimeOffset at;
        if (live)
        {
            // Arrival by this service's clock, not the reading's timestamp or the record's
            // CreateTime: those come from the meter's and the producer's clocks, which can be wrong.
            // A meter a day behind would look stale while it reports every second; one a day ahead
            // would look live for a day after it stopped.
            at = now;
        }
        else if (frame.RecordTimestamp is { } produced)
        {
            // Read back at start: when it was produced, not now, so a restart does not make a meter
            // that has been silent for days look live. Never later than now, so a producer's clock
            // running ahead cannot make it look live for longer than StaleAfter.
            at = produced < now ? produced : now;
        }
        else
        {
            // A rebuilt record without a timestamp says nothing about when its meter was last heard.
            return;
        }

        tracker.Observe(frame.Reading.Stream, frame.Reading.Device, at);
    }
}
