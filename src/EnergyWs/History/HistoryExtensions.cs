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

        return builder;
    }

    /// <summary>GET /api/readings and /api/readings/latest, rate limited by <paramref name="rateLimitPolicy"/> (429 + Retry-After).</summary>
    public static RouteGroupBuilder MapReadingsApi(this IEndpointRouteBuilder endpoints, string rateLimitPolicy)
    {
        var api = endpoints.MapGroup("/api/readings").RequireRateLimiting(rateLimitPolicy);
        api.MapGet("", context => context.RequestServices.GetRequiredService<ReadingsApi>().ReadingsAsync(context)).WithName("readings");
        api.MapGet("/latest", context => context.RequestServices.GetRequiredService<ReadingsApi>().LatestAsync(context)).WithName("readings-latest");
        return api;
    }
}
