using System.Threading.RateLimiting;

namespace EnergyWs.Streaming.Protocol;

/// <summary>
/// Allows <see cref="Rate"/> control messages a second on average with bursts of
/// <see cref="Burst"/> (Streaming:ControlMessagesPerSecond / Streaming:ControlMessageBurst). A
/// browser sends a handful a minute; anything near the rate is a bug or an attack.
/// </summary>
/// <remarks>
/// Replenished on each attempt, not by a timer: tokens accrue continuously with the time since
/// the last attempt (capped at the burst), and a connection costs no timer of its own. It holds
/// nothing that needs disposing, so it is left to the collector with its connection.
/// </remarks>
#pragma warning disable CA1001 // Without auto-replenishment and with no queue the limiter has no timer and no waiter to release on dispose.
internal sealed class ControlMessageLimit
#pragma warning restore CA1001
{
    private readonly TokenBucketRateLimiter _limiter;

    public ControlMessageLimit(int perSecond, int burst)
    {
        Rate = perSecond;
        _limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = false,
        });
    }

    /// <summary>Messages a second on average.</summary>
    public int Rate { get; }

    /// <summary>Takes one token; false once the connection has used up its burst and the rate.</summary>
    public bool TryTake()
    {
        _limiter.TryReplenish();
        using var lease = _limiter.AttemptAcquire();
        return lease.IsAcquired;
    }
}
