using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EnergyWs.Management;

internal static class ManagementExtensions
{
    /// <summary>The management listener (Management:Port) and the routing that keeps its endpoints off the public port.</summary>
    public static IHostApplicationBuilder AddManagement(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<ManagementOptions>()
            .Bind(builder.Configuration.GetSection(ManagementOptions.Section))
            .Configure<IConfiguration>((options, configuration) => options.PublicPorts = ManagementListener.PublicPorts(configuration));
        services.AddSingleton<IValidateOptions<ManagementOptions>, ManagementOptionsValidator>();
        services.AddSingleton<IValidateOptions<ManagementOptions>, ManagementPortClash>();
        services.AddSingleton<IValidateOptions<ManagementOptions>, ManagementHostCheck>();
        services.AddSingleton<ManagementListener>();
        services.AddHostedService(sp => sp.GetRequiredService<ManagementListener>());
        services.AddOptions<KestrelServerOptions>().Configure<ManagementListener>((kestrel, listener) => listener.Configure(kestrel));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ManagementPortPolicy>());
        services.AddTransient<IStartupFilter, ManagementPathsOnly>();
        return builder;
    }

    /// <summary>Served on the management listener only; the public port answers 404.</summary>
    public static TBuilder RequireManagementPort<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ManagementEndpoint.Instance);
}

/// <summary>
/// The management port serves /metrics and /health… only: anything else there (the dashboard's
/// files, /ws, /api/readings) is 404 before any other middleware sees it, so the port's reach
/// (every interface in a pod) adds nothing of the public port's to what it exposes.
/// </summary>
internal sealed class ManagementPathsOnly(ManagementListener listener) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            if (listener.Serves(context) && !IsManagementPath(context.Request.Path))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return nextMiddleware(context);
        });
        next(app);
    };

    // As routing compares paths: without regard to case, a trailing slash allowed.
    private static bool IsManagementPath(PathString path) =>
        path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Marks an endpoint as the management listener's.</summary>
internal sealed class ManagementEndpoint
{
    public static readonly ManagementEndpoint Instance = new();

    private ManagementEndpoint()
    {
    }
}

/// <summary>
/// Routes by the listener a request came in on, as HostMatcherPolicy routes by Host: management
/// endpoints match on the management port only, every other endpoint everywhere else. By the
/// local port, not the Host header, which any client can set. A path that matches only endpoints
/// of the other listener ends as 404, in any spelling routing accepts (/METRICS, /metrics/).
/// </summary>
internal sealed class ManagementPortPolicy(ManagementListener listener) : MatcherPolicy, IEndpointSelectorPolicy
{
    // With the other policies that look at the request itself (Host is -100).
    public override int Order => -100;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => endpoints.Count > 0;

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var management = listener.Serves(httpContext);
        for (var i = 0; i < candidates.Count; i++)
        {
            if (candidates.IsValidCandidate(i) &&
                candidates[i].Endpoint.Metadata.GetMetadata<ManagementEndpoint>() is not null != management)
            {
                candidates.SetValidity(i, false);
            }
        }

        return Task.CompletedTask;
    }
}
