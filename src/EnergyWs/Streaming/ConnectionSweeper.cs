using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EnergyWs.Streaming;

/// <summary>
/// Looks at every connection periodically: a send stuck beyond the slow-client timeout or an
/// expired token closes that connection. One timer for all clients instead of one per client.
/// </summary>
internal sealed class ConnectionSweeper(
    Broadcaster broadcaster,
    IOptions<StreamingOptions> options,
    TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Detection lags the timeout by at most one period; half the timeout keeps that small.
        var period = TimeSpan.FromTicks(Math.Clamp(options.Value.SlowClientTimeout.Ticks / 2, TimeSpan.TicksPerMillisecond * 50, TimeSpan.TicksPerSecond));
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Sweep();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal void Sweep()
    {
        var now = time.GetTimestamp();
        var utcNow = time.GetUtcNow();
        foreach (var connection in broadcaster.Snapshot())
        {
            connection.Check(now, utcNow);
        }
    }
}
