using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming;

/// <summary>
/// Logs how many clients are connected: when the number changed (at most once per
/// <see cref="ChangeInterval"/>, so a reconnect storm gives a handful of lines, not thousands) and
/// once per <see cref="HeartbeatInterval"/> regardless, so a quiet log still shows the service's state.
/// </summary>
internal sealed class ConnectionCountLogger(
    Broadcaster broadcaster,
    TimeProvider time,
    ILogger<ConnectionCountLogger> logger) : BackgroundService
{
    internal static readonly TimeSpan ChangeInterval = TimeSpan.FromSeconds(5);
    internal static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The timer first, then the first line: whoever sees that line (a test advancing a fake
        // clock) knows the interval is already running.
        using var timer = new PeriodicTimer(ChangeInterval, time);
        var logged = broadcaster.Count;
        var lastLog = time.GetTimestamp();
        Log.ConnectionCount(logger, logged);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var count = broadcaster.Count;
                if (count != logged || time.GetElapsedTime(lastLog) >= HeartbeatInterval)
                {
                    Log.ConnectionCount(logger, count);
                    logged = count;
                    lastLog = time.GetTimestamp();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
