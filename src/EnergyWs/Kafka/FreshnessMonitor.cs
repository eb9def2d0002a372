using EnergyWs.Freshness;

namespace EnergyWs.Kafka;

/// <summary>Runs the <see cref="FreshnessTracker"/>'s check every <see cref="CheckInterval"/>, once the history rebuild at start is complete.</summary>
/// <remarks>
/// Not before: the rebuild reads the records back oldest first, so a check in the middle of it
/// would find meters stale that the rest of the rebuild shows live, and log both. A consumer that
/// is never assigned is readiness's concern (and the EnergyWsNotConsuming alert's).
/// </remarks>
internal sealed class FreshnessMonitor(FreshnessTracker tracker, ConsumerState consumer, TimeProvider time) : BackgroundService
{
    /// <summary>
    /// A change is seen at most this late. A check reads one entry per stream and device (at most
    /// 1 + FreshnessTracker.MaxDevicesPerStream per stream), so checking less often saves nothing.
    /// </summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(CheckInterval, time);
        var rebuilt = false;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                // Once assigned and caught up, always checked: a consumer that falls behind later
                // is exactly when records stop arriving.
                rebuilt = rebuilt || (consumer.Assigned && !consumer.Replaying);
                if (rebuilt)
                {
                    tracker.Check();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
