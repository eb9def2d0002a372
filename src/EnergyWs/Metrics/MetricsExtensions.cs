using EnergyWs.Kafka;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using OpenTelemetry.Metrics;

namespace EnergyWs.Metrics;

internal static class MetricsExtensions
{
    /// <summary>Every component's meter, plus the runtime's, exported in Prometheus text format.</summary>
    public static IHostApplicationBuilder AddMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(StreamingMetrics.MeterName, ReadingMetrics.MeterName, KafkaMetrics.MeterName)
            // The runtime's built-in meter: GC, heap, thread pool, CPU time, working set.
            .AddMeter("System.Runtime")
            .AddPrometheusExporter(options =>
            {
                // Instrument names already follow Prometheus conventions (energyws_*_total).
                options.DisableTotalNameSuffixForCounters = true;
                options.ScrapeResponseCacheDurationMilliseconds = 0;
            }));
        return builder;
    }

    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint("/metrics");
        return endpoints;
    }
}
