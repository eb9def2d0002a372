using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EnergyWs.Tests.Streaming;

public sealed class StreamingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Broadcast_ThreeClients_EachReceiveEveryReadingByteExactInOrder()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        var clients = new List<WsClient>();
        for (var i = 0; i < 3; i++)
        {
            clients.Add(await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct));
        }

        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 3, "three clients are registered", Ct);
        var expected = Enumerable.Range(0, 1000).Select(SeedReadings.Json).ToList();
        await stack.ProduceAsync(expected);

        foreach (var client in clients)
        {
            Assert.Equal(expected, await client.ReceiveManyAsync(expected.Count));
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Settings_QueueCapacityKey_StillBoundsHowFarAClientMayFallBehind()
    {
        // The setting's key predates the shared ring; existing configuration must keep applying.
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:QueueCapacity"] = "8",
        }, Ct);

        Assert.Equal(8, stack.App.Get<Broadcaster>().Capacity);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_HundredAtOnce_EachHandshakeCompletesThenTheLatestReadingArrives(bool directSocketWrites)
    {
        // The latest reading is written the moment a client is accepted: written on the socket
        // itself, it must still follow Kestrel's 101 response, or the client's handshake fails.
        var settings = new Dictionary<string, string?> { ["Streaming:DirectSocketWrites"] = directSocketWrites.ToString() };
        await using var stack = await TestStack.StartAsync(settings, Ct);
        await stack.ProduceAsync([SeedReadings.Json(1)]);

        await EnergyWs.Tests.History.TimedReadings.ConsumedAsync(stack.App, 1, Ct);
        var clients = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct)));
        try
        {
            foreach (var client in clients)
            {
                Assert.Equal(SeedReadings.Json(1), await client.ReceiveAsync());
            }

            var connected = stack.App.Get<Broadcaster>().Snapshot();
            Assert.Equal(clients.Length, connected.Count);
            Assert.All(connected, c => Assert.Equal(directSocketWrites, c.WritesToSocket));
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
    public async Task Connect_OverHttpsServedByKestrelFromConfiguration_ReceivesReadingsThroughItsTls()
    {
        // Writes over TLS must go through Kestrel (written to the socket directly they would be
        // plaintext in a TLS stream, and the client could not read them), and the 2-byte transport
        // buffer would make each wait for its send.
        using var certificate = new TestCertificate();
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Tls:Url"] = "https://127.0.0.1:0",
            ["Kestrel:Endpoints:Tls:Certificate:Path"] = certificate.Path,
            ["Kestrel:Endpoints:Tls:Certificate:Password"] = TestCertificate.Password,
        };
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, settings).StartAsync(Ct);
        var https = app.Addresses.Single(address => address.Scheme == Uri.UriSchemeHttps);
        await using var client = await WsClient.ConnectAsync(
            new UriBuilder(https) { Scheme = "wss", Path = "/ws" }.Uri,
            options => options.RemoteCertificateValidationCallback = certificate.Validate,
            cancellationToken: Ct);
        await Eventually.TrueAsync(() => app.Get<Broadcaster>().Count == 1, "the client is registered", Ct);

        Assert.False(Assert.Single(app.Get<Broadcaster>().Snapshot()).WritesToSocket);
        Assert.NotEqual(2, app.Get<IOptions<SocketTransportOptions>>().Value.MaxWriteBufferSize);
        using (var producer = kafka.CreateProducer())
        {
            await SeedReadings.ProduceAsync(producer, topic, [SeedReadings.Json(1), SeedReadings.Json(2)]);
        }

        Assert.Equal([SeedReadings.Json(1), SeedReadings.Json(2)], await client.ReceiveManyAsync(2));
    }

    [Theory]
    [InlineData(false, "urls", "http://+:8080")]
    [InlineData(true, "urls", "http://+:8080;https://+:8443")]
    [InlineData(true, "https_ports", "8443")]
    [InlineData(false, "http_ports", "8080")]
    [InlineData(true, "Kestrel:Endpoints:Tls:Url", "HTTPS://0.0.0.0:8443")]
    public void ServesHttps_ReadsEachWayKestrelIsConfiguredForIt(bool expected, string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        Assert.Equal(expected, DirectSocketWrites.ServesHttps(configuration));
    }

    [Fact]
    public void ServesHttps_KestrelEndpointsReplaceUrlsWhichReplacePorts()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["https_ports"] = "8443",
            ["urls"] = "https://+:8443",
            ["Kestrel:Endpoints:Plain:Url"] = "http://+:8080",
        }).Build();
        Assert.False(DirectSocketWrites.ServesHttps(configuration));
    }

    [Fact]
    public async Task Broadcast_GarbageBetweenGoodRecords_IsSkippedAndNextReadingArrives()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "the client is registered", Ct);

        await stack.ProduceAsync([SeedReadings.Json(1), "hello world", "{\"power_w\":", "", "[1,2,3]", SeedReadings.Json(2)]);

        Assert.Equal(SeedReadings.Json(1), await client.ReceiveAsync());
        Assert.Equal(SeedReadings.Json(2), await client.ReceiveAsync());
    }

    [Fact]
    public async Task Broadcast_SlowClient_DoesNotDelayOthersAndIsClosedWith1008()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:SlowClientTimeout"] = "00:00:00.500",
            ["Streaming:CloseTimeout"] = "00:00:10",
        }, Ct);

        await using var fast1 = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await using var fast2 = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        // The stalled client never reads and advertises a tiny TCP window, so the server's send stalls.
        await using var stalled = await WsClient.ConnectAsync(stack.App.WebSocketUri(), configure: null, startReading: false, cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 3, "three clients are registered", Ct);

        var produced = 0;
        // Keep producing until the server has given up on the stalled client (kernel buffers on
        // loopback absorb a few MB first); the bound keeps a broken server from looping forever.
        // Each batch is received in full by both normal clients before the next: they are never held up.
        while (!stack.App.Get<Broadcaster>().Snapshot().Any(c => c.IsClosing) && produced < 200_000)
        {
            var batch = Enumerable.Range(produced, 500).Select(SeedReadings.Json).ToList();
            await stack.ProduceAsync(batch);
            foreach (var fast in new[] { fast1, fast2 })
            {
                Assert.Equal(batch, await fast.ReceiveManyAsync(batch.Count));
            }

            produced += batch.Count;
        }

        Assert.True(stack.App.Get<Broadcaster>().Snapshot().Any(c => c.IsClosing), $"the stalled client was not closed after {produced} readings");

        // Once it reads again it finds the close frame behind what the kernel still held.
        stalled.StartReading();
        var (status, description) = await stalled.Closed.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("too slow", description);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 2, "the stalled client is removed", Ct);
    }

    [Fact]
    public async Task Ws_PlainHttpRequest_Gets400()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = stack.App.BaseAddress };
        using var response = await http.GetAsync("/ws", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Ws_ClientFrameOverMaxMessageBytes_IsClosedWith1009()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);

        await client.SendAsync(new string('x', StreamingOptions.DefaultMaxMessageBytes + 1));

        var (status, _) = await client.Closed.WaitAsync(Eventually.DefaultTimeout, Ct);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
    }

    [Fact]
    public async Task Ws_SmallNonControlFrames_GetAnErrorAndStreamContinues()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await client.SendAsync(new string('x', StreamingOptions.DefaultMaxMessageBytes));
        await client.SendAsync("hello");

        // Not control messages: each is answered with an error and the connection stays open.
        Assert.All(await client.ReceiveManyAsync(2), m => Assert.StartsWith("{\"type\":\"error\",\"code\":\"invalid_json\"", m, StringComparison.Ordinal));
        await stack.ProduceAsync([SeedReadings.Json(7)]);

        Assert.Equal(SeedReadings.Json(7), await client.ReceiveAsync());
    }

    [Fact]
    public async Task Replicas_TwoInstancesOnOneTopic_BothDeliverEveryReading()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync(partitions: 2);
        await using var first = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
        await using var second = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
        await using var a = await WsClient.ConnectAsync(first.WebSocketUri(), cancellationToken: Ct);
        await using var b = await WsClient.ConnectAsync(second.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => first.Get<Broadcaster>().Count == 1 && second.Get<Broadcaster>().Count == 1, "both clients are registered", Ct);

        var expected = Enumerable.Range(0, 200).Select(SeedReadings.Json).ToList();
        using (var producer = kafka.CreateProducer())
        {
            await SeedReadings.ProduceAsync(producer, topic, expected);
        }

        // Two partitions: order holds per partition, so compare as sets of exactly-once readings.
        var gotA = await a.ReceiveManyAsync(expected.Count);
        var gotB = await b.ReceiveManyAsync(expected.Count);
        Assert.Equal(expected.Order(), gotA.Order());
        Assert.Equal(expected.Order(), gotB.Order());
    }
}
