using Microsoft.Extensions.DependencyInjection;

namespace EnergyWs.Freshness;

internal static class FreshnessExtensions
{
    /// <summary>
    /// The tracker and its metrics; each stream's threshold is its <c>Streams:&lt;name&gt;:StaleAfter</c>.
    /// It is fed and checked by the reading pipeline's side (Kafka/FreshnessSink, Kafka/FreshnessMonitor),
    /// which knows what is live and when the history rebuild is over.
    /// </summary>
    public static IHostApplicationBuilder AddFreshness(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<FreshnessTracker>();
        builder.Services.AddSingleton<FreshnessMetrics>();
        return builder;
    }
}
