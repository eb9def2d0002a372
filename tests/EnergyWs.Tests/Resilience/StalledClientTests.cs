using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Confluent.Kafka;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace EnergyWs.Tests.Resilience;

[Trait("Category", "Slow")]
[Collection(ResilienceCollection.Name)]
public sealed class StalledClientTests
{
    private const int Rate = 50;
    private const int ServerSendBuffer = 64 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task StalledClients_BesideNormalOnes_NormalLatencyHoldsAndStalledClosed1008InTime()
    {
        var stalledCount = ResilienceScale.Pick(10, 100);
        var normalCount = ResilienceScale.Pick(20, 100);
        var slowTimeout = ResilienceScale.Pick(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(11));
        // Each phase measures while the stalled clients are stalled but not yet cut off.
        var window = slowTimeout - TimeSpan.FromSeconds(1);
        // Sweep period as ConnectionSweeper derives it: half the timeout, at most 1 s.
        var sweep = TimeSpan.FromTicks(Math.Min(slowTimeout.Ticks / 2, TimeSpan.TicksPerSecond));

        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:SlowClientTimeout"] = slowTimeout.ToString(),
            // Long enough for a stalled client that reads again to find the 1008 behind its backlog.
            ["Streaming:CloseTimeout"] = "00:00:30",
        }, SmallServerSendBuffer, Ct);
        using var totals = new MetricTotals(stack.App.Get<IMeterFactory>(), "energyws_clients_closed_total");
        var broadcaster = stack.App.Get<Broadcaster>();
        var index = new Dictionary<string, int>();
        var produced = new List<long>();

        var normal = new List<TimedClient>();
        for (var i = 0; i < normalCount; i++)
        {
            normal.Add(await TimedClient.ConnectAsync(stack.App.WebSocketUri(), index, Ct));
        }

        await Eventually.TrueAsync(() => broadcaster.Count == normalCount, "the normal clients are registered", Ct);

        // Phase A: normal clients alone.
        var (fromA, toA) = await ProduceSteadilyAsync(stack.Producer, stack.Topic, index, produced, window);
        await Eventually.TrueAsync(() => normal.All(c => c.Received(toA - 1)), "phase A is delivered", Ct);
        var p99A = P99(normal, produced, fromA, toA, out var p50A);
        var heapA = ResilienceScale.SettledHeapBytes();

        // The stalled clients never read and advertise a small window; a burst fills what the
        // kernel buffers hold for them until the server's send to each of them blocks.
        var stalled = new List<StalledClient>();
        for (var i = 0; i < stalledCount; i++)
        {
            stalled.Add(await StalledClient.ConnectAsync(stack.App.WebSocketUri(), Ct));
        }

        await Eventually.TrueAsync(() => broadcaster.Count == normalCount + stalledCount, "the stalled clients are registered", Ct);
        var stalledConnections = broadcaster.Snapshot().Where(c => stalled.Any(s => c.Remote.EndsWith($":{s.LocalPort}", StringComparison.Ordinal))).ToList();
        Assert.Equal(stalledCount, stalledConnections.Count);

        // Watches, per stalled connection, when its queue was last seen empty (from then on its
        // send is blocked: the queue never drains again) and when the server decided to close it.
        // Nothing is produced between the stalled clients registering and here, so every stalled
        // queue is empty at zero: the lower bound when a starved sampler first runs after the fill.
        var clock = Stopwatch.StartNew();
        var stalledAt = new TimeSpan[stalledCount];
        var closingAt = new TimeSpan?[stalledCount];
        void Sample()
        {
            for (var i = 0; i < stalledCount; i++)
            {
                closingAt[i] ??= stalledConnections[i].IsClosing ? clock.Elapsed : null;
                if (closingAt[i] is null && stalledConnections[i].QueuedCount == 0)
                {
                    stalledAt[i] = clock.Elapsed;
                }
            }
        }

        using var watchStop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var watcher = Task.Run(async () =>
        {
            // Samples the server's state at a fixed period while the scenario runs.
            using var sampling = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
            while (!watchStop.IsCancellationRequested)
            {
                Sample();
                await sampling.WaitForNextTickAsync(CancellationToken.None);
            }

            // The last ones may have closed after the previous sample.
            Sample();
        }, CancellationToken.None);

        var fill = 0;
        while (!stalledConnections.All(c => c.QueuedCount >= 100) && fill < 500_000)
        {
            var batch = Enumerable.Range(index.Count, 200).Select(i => (i, SeedReadings.Json(i))).ToList();
            lock (index)
            {
                foreach (var (i, json) in batch)
                {
                    index[json] = i;
                    produced.Add(0);
                }
            }

            await stack.ProduceAsync(batch.Select(b => b.Item2));
            fill += batch.Count;
            await Eventually.TrueAsync(() => normal.All(c => c.Received(index.Count - 1)), "the burst reached the normal clients", Ct);
        }

        Assert.True(stalledConnections.All(c => c.QueuedCount >= 100), $"the stalled clients' sends did not block after {fill} readings");
        TestContext.Current.TestOutputHelper?.WriteLine($"sends blocked after {fill} readings, {clock.Elapsed.TotalSeconds:0.0} s");
        // Normally all are still stalled here; on a starved machine the burst can outlast the
        // timeout for the first ones, which then close during phase B (still a valid run).
        var stalledAtPhaseB = stalledConnections.Count(c => !c.IsClosing);

        // Phase B: the same steady stream while the stalled clients hold a blocked send each.
        var (fromB, toB) = await ProduceSteadilyAsync(stack.Producer, stack.Topic, index, produced, window);
        var heapB = ResilienceScale.SettledHeapBytes();
        await Eventually.TrueAsync(() => normal.All(c => c.Received(toB - 1)), "phase B is delivered", Ct);
        var p99B = P99(normal, produced, fromB, toB, out var p50B);

        // Every stalled client is cut off once its send has been stuck for SlowClientTimeout.
        await Eventually.TrueAsync(() => stalledConnections.All(c => c.IsClosing), "every stalled client is closed", Ct);
        await watchStop.CancelAsync();
        await watcher;
        var lateness = Enumerable.Range(0, stalledCount).Select(i => closingAt[i]!.Value - stalledAt[i]).Max();
        var allowed = slowTimeout + sweep + TimeSpan.FromSeconds(1);
        Assert.True(lateness <= allowed, $"a stalled client was closed {lateness.TotalSeconds:0.00} s after its send blocked (allowed {allowed.TotalSeconds:0.00} s)");

        // They see 1008 "too slow" once they read what the kernel still holds for them.
        foreach (var client in stalled)
        {
            var (status, description) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
            Assert.Equal("too slow", description);
        }

        await Eventually.TrueAsync(() => broadcaster.Count == normalCount, "the stalled clients are removed", Ct);
        Assert.Equal(stalledCount, totals.Total("energyws_clients_closed_total", "slow"));
        Assert.Equal(normalCount, broadcaster.Count);

        // Latency of the normal clients: within 2x of the run without stalled clients. On a shared
        // two-core box a p99 of ten milliseconds jitters by more than that on its own, so the bound
        // has a 50 ms floor; a publisher held up by a stalled send would show seconds (the slow
        // client timeout), far beyond either. The figures are reported either way.
        var bound = Math.Max(2 * p99A, p99A + 50);
        Assert.True(p99B <= bound, $"normal clients' p99 {p99B:0.0} ms with stalled clients vs {p99A:0.0} ms without (bound {bound:0.0} ms)");

        // A stalled client trails by at most MaxFramesBehind frames (shared with every other client)
        // and its socket's buffers: 1 MiB each is a generous ceiling. Server and test clients share
        // this process, so the figure covers both.
        var heapBound = heapA + (stalledCount * 1024L * 1024);
        Assert.True(heapB <= heapBound, $"managed heap {ResilienceScale.Mb(heapB)} with stalled clients (bound {ResilienceScale.Mb(heapBound)})");

        ResilienceScale.Report("stalled clients",
            $"{stalledCount} stalled + {normalCount} normal clients at {Rate}/s, {window.TotalSeconds:0} s per phase: normal p50/p99 {p50A:0.0}/{p99A:0.0} ms without stalled, " +
            $"{p50B:0.0}/{p99B:0.0} ms with ({p99B / p99A:0.00}x); blocked after a {fill:N0}-reading burst ({stalledAtPhaseB} still stalled when phase B began); all stalled closed 1008 'too slow' at most {lateness.TotalSeconds:0.00} s after the send blocked " +
            $"(SlowClientTimeout {slowTimeout.TotalSeconds:0} s, sweep {sweep.TotalSeconds:0.0} s, server send buffer {ServerSendBuffer / 1024} KiB); managed heap {ResilienceScale.Mb(heapA)} without, {ResilienceScale.Mb(heapB)} with (bound +1 MiB per stalled client: {ResilienceScale.Mb(heapBound)})");

        foreach (var client in normal)
        {
            await client.DisposeAsync();
        }

        foreach (var client in stalled)
        {
            client.Dispose();
        }
    }

    private static async Task<(int From, int To)> ProduceSteadilyAsync(IProducer<byte[]?, byte[]?> producer, string topic, Dictionary<string, int> index, List<long> produced, TimeSpan duration)
    {
        var from = index.Count;
        var count = (int)(duration.TotalSeconds * Rate);
        var values = Enumerable.Range(from, count).Select(SeedReadings.Json).ToList();
        // Index every value before the first is sent: receivers look them up concurrently.
        lock (index)
        {
            for (var i = 0; i < count; i++)
            {
                index[values[i]] = from + i;
                produced.Add(0);
            }
        }

        using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / Rate));
        for (var i = 0; i < count; i++)
        {
            await ticker.WaitForNextTickAsync(Ct);
            produced[from + i] = Stopwatch.GetTimestamp();
            producer.Produce(topic, new Message<byte[]?, byte[]?> { Value = Encoding.UTF8.GetBytes(values[i]) });
        }

        return (from, from + count);
    }

    private static double P99(List<TimedClient> clients, List<long> produced, int from, int to, out double p50)
    {
        var latencies = clients.SelectMany(c => c.ArrivalsBetween(from, to))
            .Select(a => Stopwatch.GetElapsedTime(produced[a.Index], a.Timestamp).TotalMilliseconds)
            .Order().ToList();
        Assert.Equal(clients.Count * (to - from), latencies.Count);
        p50 = latencies[latencies.Count / 2];
        return latencies[(int)Math.Ceiling(latencies.Count * 0.99) - 1];
    }

    /// <summary>A client that stamps each reading the moment it arrives.</summary>
    private sealed class TimedClient : IAsyncDisposable
    {
        private readonly ClientWebSocket _socket = new();
        private readonly Dictionary<string, int> _index;
        private readonly List<(int Index, long Timestamp)> _arrivals = [];
        private int _highest = -1;
        private Task _reader = Task.CompletedTask;

        private TimedClient(Dictionary<string, int> index) => _index = index;

        public static async Task<TimedClient> ConnectAsync(Uri uri, Dictionary<string, int> index, CancellationToken cancellationToken)
        {
            var client = new TimedClient(index);
            await client._socket.ConnectAsync(uri, cancellationToken);
            client._reader = Task.Run(client.ReadAsync, CancellationToken.None);
            return client;
        }

        public bool Received(int index) => Volatile.Read(ref _highest) >= index;

        public List<(int Index, long Timestamp)> ArrivalsBetween(int from, int to)
        {
            lock (_arrivals)
            {
                return _arrivals.Where(a => a.Index >= from && a.Index < to).ToList();
            }
        }

        private async Task ReadAsync()
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                    var now = Stopwatch.GetTimestamp();
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    int i;
                    lock (_index)
                    {
                        i = _index[Encoding.UTF8.GetString(buffer, 0, result.Count)];
                    }

                    lock (_arrivals)
                    {
                        _arrivals.Add((i, now));
                    }
                    Volatile.Write(ref _highest, i);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            _socket.Abort();
            await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _socket.Dispose();
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task StalledClient_ThatNeverReadsAgain_IsAbortedAndItsSlotFreed()
    {
        // Its send never completes, so the close frame cannot follow it: after CloseTimeout the
        // connection must be torn down and leave the broadcaster, or enough such clients would
        // use up MaxConnections for good.
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:SlowClientTimeout"] = "00:00:01",
            ["Streaming:CloseTimeout"] = "00:00:01",
        }, SmallServerSendBuffer, Ct);
        var broadcaster = stack.App.Get<Broadcaster>();
        using var stalled = await StalledClient.ConnectAsync(stack.App.WebSocketUri(), Ct);
        await Eventually.TrueAsync(() => broadcaster.Count == 1, "the client is registered", Ct);
        var connection = broadcaster.Snapshot().Single();

        var produced = 0;
        while (connection.QueuedCount < 100 && !connection.IsClosing && produced < 200_000)
        {
            await stack.ProduceAsync(Enumerable.Range(produced, 500).Select(SeedReadings.Json));
            produced += 500;
            await EnergyWs.Tests.History.TimedReadings.ConsumedAsync(stack.App, produced, Ct);
        }

        Assert.True(connection.QueuedCount >= 100 || connection.IsClosing, $"the send did not block after {produced} readings");
        // The send that never completes is on the socket itself, out of Kestrel's sight.
        Assert.True(connection.WritesToSocket);
        await Eventually.TrueAsync(() => broadcaster.Count == 0, "the stalled client is removed", Ct);
    }

    /// <summary>
    /// Linux autotunes a loopback send buffer up to 4 MiB, ~27,000 readings per stalled client
    /// before its send blocks. A fixed 64 KiB buffer (inherited by accepted sockets) makes the
    /// stall show after about a thousand readings; the server logic under test is the same.
    /// </summary>
    private static void SmallServerSendBuffer(IServiceCollection services) =>
        services.Configure<SocketTransportOptions>(o => o.CreateBoundListenSocket = endpoint =>
        {
            var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
            socket.SendBufferSize = ServerSendBuffer;
            return socket;
        });

    /// <summary>A real WebSocket client that stops reading, with a small receive buffer so its window closes quickly.</summary>
    private sealed class StalledClient : IDisposable
    {
        private readonly ClientWebSocket _socket = new();
        private readonly HttpMessageInvoker _invoker;

        private StalledClient(HttpMessageInvoker invoker) => _invoker = invoker;

        public int LocalPort { get; private set; }

        public static async Task<StalledClient> ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            StalledClient? client = null;
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (context, ct) =>
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096, NoDelay = true };
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    client!.LocalPort = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            client = new StalledClient(new HttpMessageInvoker(handler));
            await client._socket.ConnectAsync(uri, client._invoker, cancellationToken);
            return client;
        }

        public async Task<(WebSocketCloseStatus? Status, string? Description)> ReadUntilClosedAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
                    return (result.CloseStatus, result.CloseStatusDescription);
                }
            }
        }

        public void Dispose()
        {
            _socket.Abort();
            _socket.Dispose();
            _invoker.Dispose();
        }
    }
}
