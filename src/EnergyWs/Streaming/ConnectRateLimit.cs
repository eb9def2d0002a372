using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EnergyWs.Streaming;

/// <summary>
/// Per-client-IP limit on /ws connection attempts: a token bucket per remote address, answered
/// with 429 and Retry-After. It protects the upgrade path from a reconnect loop or a flood; the
/// number of open connections is bounded separately by MaxConnections.
/// </summary>
/// <remarks>
/// Behind a reverse proxy the remote address is the proxy's unless forwarded headers are applied
/// (ASPNETCORE_FORWARDEDHEADERS_ENABLED=true), in which case every client would share one bucket.
/// </remarks>
internal static class ConnectRateLimit
{
    public const string Policy = "ws-connect";

    public static IServiceCollection AddConnectRateLimit(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<StreamingOptions>>((limiter, streaming) =>
        {
            var options = streaming.Value;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = OnRejectedAsync;
            limiter.AddPolicy(Policy, context => Partition(context.Connection.RemoteIpAddress, options));
        });
        return services;
    }

    private static RateLimitPartition<IPAddress> Partition(IPAddress? remote, StreamingOptions options)
    {
        if (options.ConnectAttemptsPerMinute == 0 || remote is null)
        {
            return RateLimitPartition.GetNoLimiter(IPAddress.None);
        }

        // One token every 60 s / rate: the bucket refills smoothly instead of once a minute.
        var period = TimeSpan.FromTicks(TimeSpan.TicksPerMinute / options.ConnectAttemptsPerMinute);
        return RateLimitPartition.GetTokenBucketLimiter(remote, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.ConnectAttemptBurst,
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
        http.RequestServices.GetRequiredService<StreamingMetrics>().Rejected("rejected_rate");
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConnectRateLimit).FullName!);
        Log.ConnectRateLimited(logger, http.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        return ValueTask.CompletedTask;
    }
}
