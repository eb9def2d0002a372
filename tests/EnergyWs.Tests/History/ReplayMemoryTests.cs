using System.Net.WebSockets;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using EnergyWs.Tests.Resilience;

namespace EnergyWs.Tests.History;

/// <summary>
/// What replays cost once written: clients that caught up on a full history and then sit idle hold
/// none of it. Measures the process's managed heap, so it runs alone.
/// </summary>
[Trait("Category", "Slow")]
[Collection(ResilienceCollection.Name)]
public sealed class ReplayMemoryTests
{
    private const int Readings = 10_000;
    private const int Clients = 32;

    // What an idle connection may cost on both ends (server connection, client socket, buffers);
    // measured ~60 KB. A replay pinned for the connection's life costs ~128 KB of list per client, plus every
    // replayed frame the history has since dropped.
    private const long AllowancePerClient = 96 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ManyClientsReplayFullHistoryThenIdle_HeapReturnsToBaseline()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["History:MaxReadings"] = $"{Readings}",
        }, Ct);
        await stack.ProduceAsync(Enumerable.Range(0, Readings).Select(i => TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromSeconds(Readings + 60 - i)), i)));
        await TimedReadings.ConsumedAsync(stack.App, Readings, Ct);
        var baseline = ResilienceScale.SettledHeapBytes();

        var clients = new List<CountingClient>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                clients.Add(await CountingClient.ConnectAsync(stack.App.WebSocketUri("/ws?history=1d")));
            }

            await Task.WhenAll(clients.Select(c => c.ReachedAsync(Readings)));

            // The history moves on: what was replayed is dropped from it.
            await stack.ProduceAsync(Enumerable.Range(Readings, Readings).Select(i => TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromSeconds(60)), i)));
            await TimedReadings.ConsumedAsync(stack.App, 2 * Readings, Ct);

            // Idle: every writer has caught up (a burst this size may cost a client some live
            // readings as too far behind; what it holds afterwards is the point here).
            var broadcaster = stack.App.Get<Broadcaster>();
            await Eventually.TrueAsync(() => broadcaster.Snapshot().All(c => c.QueuedCount == 0), "every writer caught up", Ct);

            var idle = ResilienceScale.SettledHeapBytes();
            var margin = Clients * AllowancePerClient;
            ResilienceScale.Report("idle after replay", $"{Clients} clients, heap {ResilienceScale.Mb(baseline)} -> {ResilienceScale.Mb(idle)} (margin {ResilienceScale.Mb(margin)})");
            Assert.True(idle - baseline < margin, $"heap grew {ResilienceScale.Mb(idle - baseline)} over {Clients} idle clients; allowed {ResilienceScale.Mb(margin)}");
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ReplaysBeyondTheBudget_WaitTheirTurnAndAllComplete()
    {
        const int Held = 1_500;
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();

        // Room for one full replay at a time: every other client waits for the one before it.
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["History:MaxReadings"] = "2000",
            ["History:ReplayBudget"] = "2000",
        }).StartAsync(Ct);
        using var producer = kafka.CreateProducer();
        await SeedReadings.ProduceAsync(producer, topic, Enumerable.Range(0, Held).Select(i => TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromSeconds(Held + 60 - i)), i)));
        await TimedReadings.ConsumedAsync(app, Held, Ct);

        var connecting = Enumerable.Range(0, 6).Select(_ => CountingClient.ConnectAsync(app.WebSocketUri("/ws?history=1d"))).ToList();
        var clients = await Task.WhenAll(connecting);
        try
        {
            await Task.WhenAll(clients.Select(c => c.ReachedAsync(Held)));
            Assert.All(clients, c => Assert.Equal(Held, c.Count));

            // Each full replay's share is the whole budget: they ran one at a time.
            Assert.Equal(1, app.Get<EnergyWs.History.ReplayBudget>().MostLeasesAtOnce);
            await Eventually.TrueAsync(() => app.Get<EnergyWs.History.ReplayBudget>().Available == 2000, "every replay gave its share back", Ct);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ReconnectsForTheLastSeconds_ReserveThatRangeNotTheWholeHistory_AndFitBesideAFullReplay()
    {
        const int Held = 2_000;
        const int Recent = 5;
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();

        // No waiting: a replay whose share does not fit in what is free now is refused (503).
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["History:MaxReadings"] = $"{Held}",
            ["History:ReplayWaitTimeout"] = "00:00:00",
        }).StartAsync(Ct);
        using var producer = kafka.CreateProducer();
        await SeedReadings.ProduceAsync(producer, topic, Enumerable.Range(0, Held).Select(i => TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromSeconds(Held + 600 - i)), i)));
        await SeedReadings.ProduceAsync(producer, topic, Enumerable.Range(Held, Recent).Select(i => TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromSeconds(5)), i)));
        await TimedReadings.ConsumedAsync(app, Held + Recent, Ct);

        // Full-history replays being written to slow clients hold most of the (default) budget:
        // room is left for a short reconnect's share, not for a whole history's.
        var budget = app.Get<EnergyWs.History.ReplayBudget>();
        var free = 1_024 + 64;
        using var busy = await budget.AcquireAsync(budget.Capacity - free, Ct);
        Assert.NotNull(busy);

        var since = TimedReadings.Iso(TimedReadings.Ago(TimeSpan.FromSeconds(60)));
        for (var i = 0; i < 10; i++)
        {
            await using var client = await CountingClient.ConnectAsync(app.WebSocketUri($"/ws?since={since}"));
            await client.ReachedAsync(Recent);
            await Eventually.TrueAsync(() => budget.Available == free, "the reconnect gave its share back", Ct);
            Assert.Equal(Recent, client.Count);
        }
    }

    /// <summary>A client that only counts the messages it gets, keeping none of them.</summary>
    private sealed class CountingClient : IAsyncDisposable
    {
        private readonly ClientWebSocket _socket = new();
        private readonly CancellationTokenSource _stop = new();
        private Task? _reader;
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public static async Task<CountingClient> ConnectAsync(Uri uri)
        {
            var client = new CountingClient();
            await client._socket.ConnectAsync(uri, Ct);
            client._reader = Task.Run(client.ReadAsync);
            return client;
        }

        public Task ReachedAsync(int count) =>
            Eventually.TrueAsync(() => Count >= count, $"{count} messages arrive", Ct);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _socket.Abort();
            await _reader!.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _socket.Dispose();
            _stop.Dispose();
        }

        private async Task ReadAsync()
        {
            var buffer = new byte[4096];
            while (!_stop.IsCancellationRequested)
            {
                var result = await _socket.ReceiveAsync(buffer.AsMemory(), _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                if (result.EndOfMessage)
                {
                    Interlocked.Increment(ref _count);
                }
            }
        }
    }
}
