using EnergyWs.Freshness;
using EnergyWs.Kafka;
using EnergyWs.Management;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace EnergyWs.Metrics;

internal static class MetricsExtensions
{
    /// <summary>Label combinations kept per instrument: enough for a topic of 500 partitions.</summary>
    internal const int MaxPointsPerInstrument = 512;

    /// <summary>Every component's meter, plus the runtime's, exported in Prometheus text format.</summary>
    public static IHostApplicationBuilder AddMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(StreamingMetrics.MeterName, ReadingMetrics.MeterName, KafkaMetrics.MeterName, FreshnessMetrics.MeterName)
            // The runtime's built-in meter: GC, heap, thread pool, CPU time, working set.
            .AddMeter("System.Runtime")
            // Every label here has a handful of values (reasons, results, GC generations) except the
            // lag's partition and the freshness gauge's device (bounded per stream by the tracker); OpenTelemetry's default of 2,000 points preallocates ~144 KB per
            // instrument (~4 MB in all), most of an idle server's managed heap.
            // The one histogram has no labels (a single point); it is left as it is.
            .AddView(static instrument => instrument is Histogram<double>
                ? null
                : new MetricStreamConfiguration { CardinalityLimit = MaxPointsPerInstrument })
            .AddPrometheusExporter(options =>
            {
                // Instrument names already follow Prometheus conventions (energyws_*_total).
                options.DisableTotalNameSuffixForCounters = true;
                options.ScrapeResponseCacheDurationMilliseconds = 0;
            }));
        return builder;
    }

    /// <summary>
    /// The scrape, on the management port only: each one is built afresh (no response cache), so
    /// the public port must never reach it.
    /// </summary>
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint("/metrics").RequireManagementPort();
        return endpoints;
    }
}
