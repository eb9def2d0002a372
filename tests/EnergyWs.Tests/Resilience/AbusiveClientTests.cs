using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Resilience;

[Trait("Category", "Slow")]
[Collection(ResilienceCollection.Name)]
public sealed class AbusiveClientTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task OversizedFrames_ManyClients_EachClosed1009AndBystanderUnaffected()
    {
        var abusers = ResilienceScale.Pick(20, 200);
        await using var stack = await TestStack.StartAsync(Ct);
        await using var bystander = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        var clients = await BrokerOutageTests.ConnectAsync(stack.App, abusers);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == abusers + 1, "every client is registered", Ct);

        // 1 MiB text frames, sent without waiting: the server must stop reading at 4 KiB.
        var sw = Stopwatch.StartNew();
        var huge = Encoding.UTF8.GetBytes(new string('x', 1024 * 1024));
        var sends = clients.Select(c => c.Socket.SendAsync(huge, WebSocketMessageType.Text, true, Ct)
            .ContinueWith(_ => { }, TaskScheduler.Default)).ToList();
        foreach (var client in clients)
        {
            var (status, _) = await client.Closed.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
        }

        var allClosed = sw.Elapsed;
        await Task.WhenAll(sends);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "the abusers are removed", Ct);

        await stack.ProduceAsync([SeedReadings.Json(1), SeedReadings.Json(2)]);

        Assert.Equal([SeedReadings.Json(1), SeedReadings.Json(2)], await bystander.ReceiveManyAsync(2));
        Assert.False(bystander.Closed.IsCompleted);
        ResilienceScale.Report("oversized frames", $"{abusers} clients each sending a 1 MiB frame: all closed 1009 within {allClosed.TotalMilliseconds:0} ms; bystander kept streaming");
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    [Fact(Timeout = 300_000)]
    public async Task MessageFlood_OneClientSendsThousandsPerSecond_RateLimitedThenClosedOthersUnaffected()
    {
        var readings = ResilienceScale.Pick(100, 500);
        await using var stack = await TestStack.StartAsync(Ct);
        await using var abuser = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await using var bystander = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 2, "both clients are registered", Ct);

        var produce = Task.Run(async () =>
        {
            using var ticker = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
            for (var i = 0; i < readings; i++)
            {
                await ticker.WaitForNextTickAsync(Ct);
                stack.Producer.Produce(new Confluent.Kafka.TopicPartition(stack.Topic, 0), new Confluent.Kafka.Message<byte[]?, byte[]?> { Value = Encoding.UTF8.GetBytes(SeedReadings.Json(i)) });
            }

            stack.Producer.Flush(TimeSpan.FromSeconds(10));
        }, Ct);

        // Control messages, binary garbage and junk text as fast as the socket takes them, until the server cuts it off.
        var random = new Random(8);
        var garbage = new byte[4096];
        var texts = new[] { "{\"type\":\"ping\"}", "{\"type\":\"subscribe\",\"devices\":null}", "{", "null" };
        var sent = 0;
        var sw = Stopwatch.StartNew();
        try
        {
            while (!abuser.Closed.IsCompleted && sw.Elapsed < TimeSpan.FromSeconds(30))
            {
                if (sent % 2 == 0)
                {
                    random.NextBytes(garbage);
                    await abuser.Socket.SendAsync(garbage.AsMemory(0, random.Next(1, garbage.Length + 1)), WebSocketMessageType.Binary, true, Ct);
                }
                else
                {
                    await abuser.SendAsync(texts[sent % texts.Length]);
                }

                sent++;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or InvalidOperationException)
        {
            // The server closed the flooding client while it was still sending.
        }

        var (status, description) = await abuser.Closed.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var cutOff = sw.Elapsed;
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("rate limited", description);

        await produce;
        var expected = Enumerable.Range(0, readings).Select(SeedReadings.Json).ToList();
        Assert.Equal(expected, await bystander.ReceiveManyAsync(expected.Count));
        Assert.Equal(1, stack.App.Get<Broadcaster>().Count);
        ResilienceScale.Report("message flood",
            $"one client sent {sent:N0} messages in {cutOff.TotalMilliseconds:N0} ms (half binary garbage up to 4 KiB): closed 1008 \"rate limited\"; a bystander received all {expected.Count} readings in order");
    }

    [Fact(Timeout = 300_000)]
    public async Task HalfOpenPeer_NeverAnswersPings_ClosedByPongTimeoutWhileHealthyClientStays()
    {
        var peers = ResilienceScale.Pick(10, 100);
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:PingInterval"] = "00:00:01",
            ["Streaming:PongTimeout"] = "00:00:01",
        }, Ct);
        using var totals = new MetricTotals(stack.App.Get<IMeterFactory>(), "energyws_clients_closed_total");
        await using var healthy = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);

        var sw = Stopwatch.StartNew();
        var halfOpen = new List<RawPeer>();
        for (var i = 0; i < peers; i++)
        {
            halfOpen.Add(await RawPeer.UpgradeAsync(stack.App.BaseAddress, Ct));
        }

        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == peers + 1, "every peer is registered", Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "the half-open peers are dropped", Ct);
        var dropped = sw.Elapsed;

        // Ping every 1 s, pong due within 1 s: a silent peer is gone after about 2 s.
        Assert.True(dropped < TimeSpan.FromSeconds(6), $"half-open peers dropped after {dropped.TotalSeconds:0.0} s");
        Assert.Equal(peers, totals.Total("energyws_clients_closed_total", "connection_lost"));

        // The healthy client answers pings (ClientWebSocket does so on its own) and keeps streaming.
        await stack.ProduceAsync([SeedReadings.Json(3)]);

        Assert.Equal(SeedReadings.Json(3), await healthy.ReceiveAsync());
        Assert.False(healthy.Closed.IsCompleted);
        ResilienceScale.Report("half-open peers",
            $"{peers} peers that upgrade then never read or write, PingInterval 1 s / PongTimeout 1 s: all dropped {dropped.TotalSeconds:0.0} s after connecting; a healthy client stayed");
        foreach (var peer in halfOpen)
        {
            peer.Dispose();
        }
    }

    [Fact(Timeout = 300_000)]
    public async Task BadUpgradeAttempts_Thousands_AllRefusedAndNoMemoryGrowth()
    {
        var attempts = ResilienceScale.Pick(2_000, 10_000);
        await using var stack = await TestStack.StartAsync(Ct);
        var port = stack.App.BaseAddress.Port;
        var tooManyDevices = "/ws?" + string.Join('&', Enumerable.Range(0, 65).Select(i => $"device=d{i}"));
        var requests = new[]
        {
            $"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",                        // not an upgrade
            RawPeer.UpgradeRequest(port, withKey: false),                               // no Sec-WebSocket-Key
            RawPeer.UpgradeRequest(port, version: "8"),                                 // unsupported version
            RawPeer.UpgradeRequest(port, tooManyDevices),                               // hostile selection
            RawPeer.UpgradeRequest(port, "/ws?device=" + new string('d', 200)),         // over-long filter
            "BLAH /ws HTTP/9.9\r\n\r\n",                                                // not HTTP
        };

        async Task<int[]> AttemptAsync(int count)
        {
            var statuses = new int[count];
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (i, ct) =>
            {
                var (peer, status) = await RawPeer.SendAsync(stack.App.BaseAddress, requests[i % requests.Length], ct);
                peer.Dispose();
                statuses[i] = status;
            });
            return statuses;
        }

        await AttemptAsync(requests.Length * 50);
        var heapBefore = ResilienceScale.SettledHeapBytes();
        var sw = Stopwatch.StartNew();
        var statuses = await AttemptAsync(attempts);
        var elapsed = sw.Elapsed;
        var heapAfter = ResilienceScale.SettledHeapBytes();

        // 4xx, or 505 for the made-up HTTP version; never an upgrade, never a server error.
        Assert.All(statuses, s => Assert.True(s is >= 400 and < 500 or 505, $"status {s}"));
        Assert.Equal(0, stack.App.Get<Broadcaster>().Count);
        Assert.True(heapAfter <= heapBefore * 1.10, $"managed heap {ResilienceScale.Mb(heapBefore)} before, {ResilienceScale.Mb(heapAfter)} after {attempts} bad upgrades (> +10 %)");

        // The service still upgrades a good request afterwards.
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "a good client is registered", Ct);
        ResilienceScale.Report("bad upgrades",
            $"{attempts:N0} bad upgrade requests ({requests.Length} kinds) in {elapsed.TotalSeconds:0.0} s: all refused ({string.Join(", ", statuses.GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{g.Key}x{g.Count()}"))}); " +
            $"managed heap {ResilienceScale.Mb(heapBefore)} -> {ResilienceScale.Mb(heapAfter)}");
    }
}
