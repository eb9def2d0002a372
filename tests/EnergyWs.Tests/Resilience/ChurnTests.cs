using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Resilience;

[Trait("Category", "Slow")]
[Collection(ResilienceCollection.Name)]
public sealed class ChurnTests
{
    private const int Parallelism = 4;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 600_000)]
    public async Task Churn_ConnectDisconnectHalfAbrupt_GaugeBackToZeroAndNothingLeaks()
    {
        var cycles = ResilienceScale.Pick(2_000, 20_000);
        var warmUp = ResilienceScale.Pick(400, 2_000);

        await using var stack = await TestStack.StartAsync(Ct);
        using var totals = new MetricTotals(stack.App.Get<IMeterFactory>(), "energyws_connections", "energyws_connections_total", "energyws_clients_closed_total");
        var broadcaster = stack.App.Get<Broadcaster>();

        // Warm-up fills pools and caches (Kestrel's memory pool, JIT, thread pool) to the level the churn needs.
        await ChurnAsync(stack.App, warmUp, sample: null);
        await Eventually.TrueAsync(() => broadcaster.Count == 0 && totals.Total("energyws_connections") == 0, "warm-up connections are gone", Ct);

        // The gauge drops just before the close is counted (two instruments, one after the other):
        // a baseline taken in between would count the last warm-up close as one of the churn's.
        await Eventually.TrueAsync(() => totals.Total("energyws_clients_closed_total") == warmUp, "every warm-up connection's end is counted", Ct);
        var closedBefore = totals.ByTag("energyws_clients_closed_total");
        var heapBefore = ResilienceScale.SettledHeapBytes();
        var timersBefore = Timer.ActiveCount;
        var threadsBefore = Process.GetCurrentProcess().Threads.Count;

        // Weak references to connections seen registered mid-churn: they must all be collectable after.
        var sampled = new List<WeakReference>();
        var sw = Stopwatch.StartNew();
        await ChurnAsync(stack.App, cycles, sampled);
        var elapsed = sw.Elapsed;

        await Eventually.TrueAsync(() => broadcaster.Count == 0 && totals.Total("energyws_connections") == 0, "the connections gauge is back to 0", Ct);
        await Eventually.TrueAsync(() => totals.Total("energyws_clients_closed_total") == warmUp + cycles, "every connection's end is counted", Ct);
        Assert.Equal(warmUp + cycles, totals.Total("energyws_connections_total", "accepted"));

        var heapAfter = ResilienceScale.SettledHeapBytes();
        var timersAfter = Timer.ActiveCount;
        var threadsAfter = Process.GetCurrentProcess().Threads.Count;
        var alive = sampled.Count(w => w.IsAlive);
        var byReason = totals.ByTag("energyws_clients_closed_total").ToDictionary(kv => kv.Key, kv => kv.Value - closedBefore.GetValueOrDefault(kv.Key));

        // Every cycle ended as the client meant it to: a close handshake or a lost connection.
        Assert.Equal(cycles / 2, byReason.GetValueOrDefault("client_closed"));
        Assert.Equal(cycles - (cycles / 2), byReason.GetValueOrDefault("connection_lost"));
        Assert.True(sampled.Count > 0, "no connection was sampled while registered");
        Assert.Equal(0, alive);
        Assert.True(heapAfter <= heapBefore * 1.10, $"managed heap {ResilienceScale.Mb(heapBefore)} before, {ResilienceScale.Mb(heapAfter)} after {cycles} cycles (> +10 %)");
        // A leaked keep-alive timer or close timeout per connection would show as thousands here.
        Assert.True(timersAfter <= timersBefore + 16, $"active timers {timersBefore} before, {timersAfter} after");
        // Heuristic only: the thread pool grows and shrinks on its own; a thread per connection would not fit.
        Assert.True(threadsAfter <= threadsBefore + 32, $"threads {threadsBefore} before, {threadsAfter} after");

        ResilienceScale.Report("churn",
            $"{cycles:N0} connect/disconnect cycles ({cycles / 2:N0} closed normally, {cycles / 2:N0} by TCP reset), {Parallelism} at a time, in {elapsed.TotalSeconds:0.0} s ({cycles / elapsed.TotalSeconds:0} cycles/s): " +
            $"connections gauge back to 0; closed by reason {string.Join(", ", byReason.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"))}; " +
            $"managed heap {ResilienceScale.Mb(heapBefore)} -> {ResilienceScale.Mb(heapAfter)} ({(heapAfter - heapBefore) * 100.0 / heapBefore:+0.0;-0.0} %); " +
            $"active timers {timersBefore} -> {timersAfter}; threads {threadsBefore} -> {threadsAfter}; {sampled.Count} sampled connections all collected");
    }

    private static async Task ChurnAsync(EnergyWsApp app, int cycles, List<WeakReference>? sample)
    {
        var broadcaster = app.Get<Broadcaster>();
        var uri = app.WebSocketUri();
        using var done = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var sampler = sample is null ? Task.CompletedTask : Task.Run(async () =>
        {
            // Samples the server's state at a fixed period while the scenario runs.
            using var sampling = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            while (!done.IsCancellationRequested && sample.Count < 500)
            {
                foreach (var connection in broadcaster.Snapshot())
                {
                    sample.Add(new WeakReference(connection));
                }

                await sampling.WaitForNextTickAsync(CancellationToken.None);
            }
        }, CancellationToken.None);

        await Parallel.ForAsync(0, cycles, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = Ct }, async (i, ct) =>
        {
            if (i % 2 == 0)
            {
                using var socket = new ClientWebSocket();
                await socket.ConnectAsync(uri, ct);
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", ct);
            }
            else
            {
                // Upgraded, then gone with a RST: no close frame, no FIN.
                using var peer = await RawPeer.UpgradeAsync(app.BaseAddress, ct);
                peer.Reset();
            }
        });

        await done.CancelAsync();
        await sampler;
    }
}
