using EnergyWs.Kafka;
using EnergyWs.Streaming;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnergyWs.History;

internal static class HistoryExtensions
{
    /// <summary>The in-memory history, fed by the reading pipeline and rebuilt from Kafka at start.</summary>
    public static IHostApplicationBuilder AddHistory(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<HistoryOptions>().Bind(builder.Configuration.GetSection(HistoryOptions.Section));
        services.AddSingleton<IValidateOptions<HistoryOptions>, HistoryOptionsValidator>();
        services.AddSingleton<ReadingHistory>();
        services.AddSingleton<ReadingsApi>();
        services.AddSingleton<ReplayBudget>();

        // Rebuild after a restart: read back as many records per partition as the history can
        // hold, unless Kafka:ReplayRecords says otherwise. By offset, because the embedded broker
        // cannot seek by time and a real broker's retention may be shorter than the window; what
        // is older than the window is dropped on arrival. The one place an unset value is resolved.
        services.AddOptions<KafkaOptions>()
            .PostConfigure<IOptions<HistoryOptions>>((kafka, history) => kafka.ReplayRecords ??= history.Value.MaxReadings);

        return builder;
    }

    /// <summary>GET /api/readings and /api/readings/latest, rate limited per client IP (429 + Retry-After).</summary>
    public static RouteGroupBuilder MapReadingsApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/readings").RequireRateLimiting(ConnectRateLimit.ApiPolicy);
        api.MapGet("", context => context.RequestServices.GetRequiredService<ReadingsApi>().ReadingsAsync(context)).WithName("readings");
        api.MapGet("/latest", context => context.RequestServices.GetRequiredService<ReadingsApi>().LatestAsync(context)).WithName("readings-latest");
        return api;
    }
}
