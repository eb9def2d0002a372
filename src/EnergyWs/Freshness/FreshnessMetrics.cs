using System.Diagnostics.Metrics;

namespace EnergyWs.Freshness;

/// <summary>When each stream and device last had a record, and each stream's StaleAfter, read from <see cref="FreshnessTracker"/> at scrape time.</summary>
/// <remarks>
/// Alerts compare <c>time() - energyws_stream_last_record_timestamp_seconds</c> with
/// <c>energyws_stream_stale_after_seconds</c> (deploy/prometheus/energy-ws-rules.yaml), so the
/// threshold is configured once, here, per stream.
/// </remarks>
internal sealed class FreshnessMetrics
{
    public const string MeterName = "EnergyWs.Freshness";

    public const string LastRecordName = "energyws_stream_last_record_timestamp_seconds";

    public const string StaleAfterName = "energyws_stream_stale_after_seconds";

    public FreshnessMetrics(IMeterFactory meterFactory, FreshnessTracker tracker)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge(
            LastRecordName,
            () => LastRecords(tracker),
            "s",
            "Unix time at which the last record of the stream (device label absent) or of one device arrived, by this service's clock.");
        meter.CreateObservableGauge(
            StaleAfterName,
            () => StaleAfter(tracker),
            "s",
            "No record for longer than this makes the stream or one of its devices stale.");
    }

    private static IEnumerable<Measurement<double>> LastRecords(FreshnessTracker tracker)
    {
        foreach (var stream in tracker.Snapshot())
        {
            // A stream without any record since start has no series: a made-up time would hide
            // that (the absence is what the EnergyWsStreamNoRecords alert looks for).
            if (stream.LastRecord is { } last)
            {
                yield return new Measurement<double>(Seconds(last), new KeyValuePair<string, object?>("stream", stream.Stream));
            }

            foreach (var device in stream.Devices)
            {
                yield return new Measurement<double>(
                    Seconds(device.LastRecord),
                    new KeyValuePair<string, object?>("stream", stream.Stream),
                    new KeyValuePair<string, object?>("device", device.Device));
            }
        }
    }

    private static IEnumerable<Measurement<double>> StaleAfter(FreshnessTracker tracker)
    {
        // A stream without an alarm (StaleAfter 00:00:00) has no threshold series, so no rule fires for it.
        foreach (var stream in tracker.Snapshot().Where(s => s.StaleAfter > TimeSpan.Zero))
        {
            yield return new Measurement<double>(stream.StaleAfter.TotalSeconds, new KeyValuePair<string, object?>("stream", stream.Stream));
        }
    }

    private static double Seconds(DateTimeOffset at) => at.ToUnixTimeMilliseconds() / 1000.0;
}
