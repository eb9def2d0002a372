using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EnergyWs.Streaming;

/// <summary>
/// Per-client-IP limits on /ws connection attempts and on /api/readings requests: a token bucket
/// per remote address (IPv6 by /64, see <see cref="ClientAddress"/>) and policy, answered with 429 and Retry-After. They protect the upgrade path
/// from a reconnect loop or a flood, and the history from being copied out in a loop; the number
/// of open connections is bounded separately by MaxConnections and MaxConnectionsPerUser.
/// </summary>
/// <remarks>
/// Behind a reverse proxy the remote address is the proxy's, so every client would share one
/// bucket, unless forwarded headers are applied (ASPNETCORE_FORWARDEDHEADERS_ENABLED=true) from
/// the proxies in Hosting:KnownProxies / Hosting:KnownNetworks.
/// </remarks>
internal static class ConnectRateLimit
{
    public const string Policy = "ws-connect";

    public const string ApiPolicy = "readings-api";

    public static IServiceCollection AddConnectRateLimit(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<StreamingOptions>>((limiter, streaming) =>
        {
            var options = streaming.Value;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = OnRejectedAsync;
            limiter.AddPolicy(Policy, context => Partition(ClientAddress.Bucket(context.Connection.RemoteIpAddress), options.ConnectAttemptsPerMinute, options.ConnectAttemptBurst));
            limiter.AddPolicy(ApiPolicy, context => Partition(ClientAddress.Bucket(context.Connection.RemoteIpAddress), options.ApiRequestsPerMinute, options.ApiRequestBurst));
        });
        return services;
    }

    private static RateLimitPartition<IPAddress> Partition(IPAddress? remote, int perMinute, int burst)
    {
        if (perMinute == 0 || remote is null)
        {
            return RateLimitPartition.GetNoLimiter(IPAddress.None);
        }

        // One token every 60 s / rate: the bucket refills smoothly instead of once a minute.
        var period = TimeSpan.FromTicks(TimeSpan.TicksPerMinute / perMinute);
        return RateLimitPartition.GetTokenBucketLimiter(remote, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static ValueTask OnRejectedAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConnectRateLimit).FullName!);
        var remote = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (http.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == ApiPolicy)
        {
            Log.ApiRateLimited(logger, remote);
            return ValueTask.CompletedTask;
        }

        http.RequestServices.GetRequiredService<StreamingMetrics>().Rejected("rejected_rate");
        Log.ConnectRateLimited(logger, remote);
        return ValueTask.CompletedTask;
    }
}
