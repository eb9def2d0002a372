using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using EnergyWs.Kafka;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace EnergyWs.Tests.Operations;

[Collection(ProcessWideMetrics.Name)]
public sealed class OperationsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Readiness_BrokerDownThenUp_GoesRedThenGreen()
    {
        Assert.SkipWhen(TestKafka.IsExternal, "needs the embedded broker to take it down");
        await using var stack = await TestStack.StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = stack.App.ManagementAddress };

        await Scrape.UntilStatusAsync(http, "/health/ready", HttpStatusCode.OK, Eventually.DefaultTimeout, Ct);
        stack.Kafka.Embedded!.SetAllBrokers(false);
        var red = await Scrape.UntilStatusAsync(http, "/health/ready", HttpStatusCode.ServiceUnavailable, Eventually.DefaultTimeout, Ct);
        Assert.Contains("\"kafka\":{\"status\":\"Unhealthy\"", red, StringComparison.Ordinal);
        // The public port says red too, without the broker's error.
        using (var publicHttp = new HttpClient { BaseAddress = stack.App.BaseAddress })
        {
            using var publicReady = await publicHttp.GetAsync(new Uri("/health/ready", UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, publicReady.StatusCode);
            Assert.Equal("""{"status":"Unhealthy"}""", await publicReady.Content.ReadAsStringAsync(Ct));
        }

        // Liveness does not depend on the broker: restarting the pod would not bring Kafka back.
        using (var live = await http.GetAsync(new Uri("/health", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }

        stack.Kafka.Embedded.SetAllBrokers(true);
        // librdkafka reconnects with backoff; allow it a generous window.
        await Scrape.UntilStatusAsync(http, "/health/ready", HttpStatusCode.OK, TimeSpan.FromSeconds(30), Ct);
    }

    [Fact]
    public async Task Metrics_AfterKnownTraffic_MatchIt()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = stack.App.ManagementAddress };
        await using var a = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await using var b = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 2, "both clients are registered", Ct);

        const int Good = 40;
        string[] garbage = ["hello world", "{\"power_w\":", "[1,2,3]"];
        var values = Enumerable.Range(0, Good).Select(SeedReadings.Json).Concat(garbage).ToList();
        await stack.ProduceAsync(values);

        var receivedA = await a.ReceiveManyAsync(Good);
        var receivedB = await b.ReceiveManyAsync(Good);
        Assert.Equal(Good, receivedA.Count + receivedB.Count - Good);

        var text = await Scrape.UntilMetricsAsync(
            http,
            t => Scrape.Value(t, "energyws_kafka_records_total", ("result", "invalid")) == garbage.Length &&
                 Scrape.Value(t, "energyws_frames_sent_total") == 2 * Good,
            "every record and frame is counted",
            Ct);
        Assert.Equal(2, Scrape.Value(text, "energyws_connections"));
        Assert.Equal(2, Scrape.Value(text, "energyws_connections_total", ("result", "accepted")));
        Assert.Equal(Good, Scrape.Value(text, "energyws_readings_total"));
        Assert.Equal(Good, Scrape.Value(text, "energyws_kafka_records_total", ("result", "ok")));
        Assert.Equal(garbage.Length, Scrape.Value(text, "energyws_decode_errors_total"));
        // Both clients read everything: nothing may have been dropped.
        Assert.Equal(0, Scrape.Value(text, "energyws_frames_dropped_total") ?? 0);
        // One latency sample per socket write: at least one write per client, at most one per frame.
        Assert.InRange(Scrape.Value(text, "energyws_delivery_latency_seconds_count") ?? 0, 2, 2 * Good);
        Assert.Equal(0, Scrape.Value(text, "energyws_kafka_consumer_lag", ("topic", stack.Topic), ("partition", "0")));
        // The runtime's own meter is exported too.
        Assert.Contains("dotnet_gc_", text, StringComparison.Ordinal);

        await a.DisposeAsync();
        text = await Scrape.UntilMetricsAsync(http, t => Scrape.Value(t, "energyws_connections") == 1, "the closed client is uncounted", Ct);
        Assert.Equal(1, Scrape.Value(text, "energyws_clients_closed_total", ("reason", "client_closed")));
    }

    [Fact]
    public async Task Metrics_ProducingWhilePaused_LagEqualsProduced()
    {
        // The consumer is held inside the first reading's hand-off (before it is counted or its
        // offset recorded), so the records stay in the broker as lag, as behind a stuck consumer.
        using var release = new ManualResetEventSlim();
        var held = 0;
        void Hold(ReadingFrame _)
        {
            if (Interlocked.Exchange(ref held, 1) == 0)
            {
                release.Wait();
            }
        }

        await using var stack = await TestStack.StartAsync(null, services => services.AddSingleton<IReadingSink>(new FrameSink(Hold)), Ct);
        using var http = new HttpClient { BaseAddress = stack.App.ManagementAddress };
        try
        {
            const int Produced = 25;
            await stack.ProduceAsync(Enumerable.Range(0, Produced).Select(SeedReadings.Json));

            var lag = (string t) => Scrape.Value(t, "energyws_kafka_consumer_lag", ("topic", stack.Topic), ("partition", "0"));
            var text = await Scrape.UntilMetricsAsync(http, t => lag(t) == Produced, $"the lag is {Produced}", Ct);
            Assert.Equal(0, Scrape.Value(text, "energyws_readings_total") ?? 0);

            release.Set();
            text = await Scrape.UntilMetricsAsync(http, t => lag(t) == 0, "the lag is gone", Ct);
            Assert.Equal(Produced, Scrape.Value(text, "energyws_readings_total"));
        }
        finally
        {
            // Never leave the consumer thread waiting: the host's stop would wait for it.
            release.Set();
        }
    }

    [Fact]
    public async Task Shutdown_ConnectedClients_EachGet1001AndStopIsInTime()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var timeout = TimeSpan.FromSeconds(5);
        var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["Shutdown:Timeout"] = "00:00:05",
            ["Logging:LogLevel:EnergyWs"] = "Information",
        }, services => services.AddLogging(logging => logging.AddFakeLogging())).StartAsync(Ct);
        var logs = app.Get<FakeLogCollector>();
        var clients = new List<WsClient>();
        try
        {
            Assert.Equal(timeout, app.Get<Microsoft.Extensions.Options.IOptions<HostOptions>>().Value.ShutdownTimeout);
            for (var i = 0; i < 3; i++)
            {
                clients.Add(await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct));
            }

            await Eventually.TrueAsync(() => app.Get<Broadcaster>().Count == 3, "three clients are registered", Ct);

            // What SIGTERM does: the lifetime signals stopping, the host stops.
            var stopwatch = Stopwatch.StartNew();
            var health = app.Get<HealthCheckService>();
            app.Get<IHostApplicationLifetime>().StopApplication();
            var ready = await health.CheckHealthAsync(c => c.Tags.Contains("ready"), Ct);
            Assert.Equal(HealthStatus.Unhealthy, ready.Status);
            Assert.Equal("stopping", ready.Entries["lifecycle"].Description);

            foreach (var client in clients)
            {
                var (status, description) = await client.Closed.WaitAsync(Eventually.DefaultTimeout, Ct);
                Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status);
                Assert.Equal("server shutting down", description);
            }

            // New upgrades are refused (503 while draining, or the listener is already closed).
            await Assert.ThrowsAsync<WebSocketException>(() => WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct));

            // The consumer is closed last (hosted services stop in reverse order); the host is stopped then.
            await Eventually.TrueAsync(() => logs.GetSnapshot().Any(r => r.Message == "Kafka consumer stopped"), "the consumer is closed", Ct);
            await app.DisposeAsync();
            Assert.True(stopwatch.Elapsed < timeout, $"stopping took {stopwatch.Elapsed}");
        }
        finally
        {
            await app.DisposeAsync();
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

    }

    [Fact]
    public async Task Limits_MaxConnectionsPlusOne_Gets503WithRetryAfter()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:MaxConnections"] = "2",
        }, Ct);
        await using var a = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await using var b = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 2, "two clients are registered", Ct);

        var (status, retryAfter) = await RefusedAsync(stack.App.WebSocketUri());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.NotNull(retryAfter);

        // A freed slot is usable again.
        await a.DisposeAsync();
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "the closed client is removed", Ct);
        await using var c = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
    }

    [Fact]
    public async Task Limits_ConnectFloodFromOneIp_Gets429WithRetryAfter()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:ConnectAttemptsPerMinute"] = "1",
            ["Streaming:ConnectAttemptBurst"] = "3",
        }, Ct);
        using var http = new HttpClient { BaseAddress = stack.App.ManagementAddress };

        var clients = new List<WsClient>();
        for (var i = 0; i < 3; i++)
        {
            clients.Add(await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct));
        }
        // The handshake completes before the server registers the client; wait for the registration.
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 3, "three clients are registered", Ct);

        var (status, retryAfter) = await RefusedAsync(stack.App.WebSocketUri());
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.True(int.TryParse(retryAfter, out var seconds) && seconds >= 1, $"Retry-After: {retryAfter}");

        // Clients already connected are untouched by the limit: each still receives the next reading.
        await stack.ProduceAsync([SeedReadings.Json(1)]);
        foreach (var client in clients)
        {
            Assert.Equal(SeedReadings.Json(1), await client.ReceiveAsync());
        }
        var text = await Scrape.MetricsAsync(http, Ct);
        Assert.Equal(1, Scrape.Value(text, "energyws_connections_total", ("result", "rejected_rate")));
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Limits_BehindKnownProxyWithForwardedHeaders_LimitIsPerClientIp()
    {
        // What the Kubernetes ConfigMap sets (ASPNETCORE_FORWARDEDHEADERS_ENABLED=true), the test's peer as the proxy.
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["ForwardedHeaders_Enabled"] = "true",
            ["Hosting:KnownProxies:0"] = "127.0.0.1",
            ["Streaming:ConnectAttemptsPerMinute"] = "1",
            ["Streaming:ConnectAttemptBurst"] = "1",
        }, Ct);
        var via = (string ip) => (Action<ClientWebSocketOptions>)(o => o.SetRequestHeader("X-Forwarded-For", ip));

        // All attempts come from one peer (the proxy), yet each client has its own allowance.
        await using var a = await WsClient.ConnectAsync(stack.App.WebSocketUri(), via("203.0.113.1"), cancellationToken: Ct);
        await using var b = await WsClient.ConnectAsync(stack.App.WebSocketUri(), via("203.0.113.2"), cancellationToken: Ct);
        var (status, _) = await RefusedAsync(stack.App.WebSocketUri(), via("203.0.113.1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
    }

    [Fact]
    public async Task Limits_ForwardedForFromPeerOutsideKnownNetworks_IsIgnoredAndItsOwnAddressCounts()
    {
        // A pod inside the cluster, not the proxy: 127.0.0.1 is not in the trusted network.
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["ForwardedHeaders_Enabled"] = "true",
            ["Hosting:KnownNetworks:0"] = "10.42.0.0/16",
            ["Streaming:ConnectAttemptsPerMinute"] = "1",
            ["Streaming:ConnectAttemptBurst"] = "1",
        }, Ct);
        var via = (string ip) => (Action<ClientWebSocketOptions>)(o => o.SetRequestHeader("X-Forwarded-For", ip));

        await using var a = await WsClient.ConnectAsync(stack.App.WebSocketUri(), via("203.0.113.1"), cancellationToken: Ct);
        // A new address in the header buys no new allowance.
        var (status, _) = await RefusedAsync(stack.App.WebSocketUri(), via("203.0.113.2"));
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
    }

    [Fact]
    public async Task Commits_AutoCommitUnderGroup_VisibleToKafkaToolsAndShutdownClean()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var group = $"energy-ws-test-{Guid.NewGuid():N}";
        var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["Kafka:GroupId"] = group,
            ["Kafka:Consumer:enable.auto.commit"] = "true",
            ["Kafka:Consumer:auto.commit.interval.ms"] = "100",
        }).StartAsync(Ct);
        try
        {
            const int Produced = 30;
            using (var producer = kafka.CreateProducer())
            {
                await SeedReadings.ProduceAsync(producer, topic, Enumerable.Range(0, Produced).Select(SeedReadings.Json));
            }

            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = kafka.BootstrapServers }).Build();
            long committed = -1;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            cts.CancelAfter(Eventually.DefaultTimeout);
            while (committed != Produced)
            {
                var result = await admin.ListConsumerGroupOffsetsAsync(
                    [new ConsumerGroupTopicPartitions(group, [new TopicPartition(topic, 0)])],
                    new ListConsumerGroupOffsetsOptions { RequestTimeout = TimeSpan.FromSeconds(5) });
                committed = result.Single().Partitions.Single().Offset.Value;
                if (committed != Produced)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cts.Token);
                }
            }

            Assert.Equal(Produced, committed);
        }
        finally
        {
            // Closing with auto-commit on commits once more; it must not hang the stop.
            var stopwatch = Stopwatch.StartNew();
            await app.DisposeAsync();
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {stopwatch.Elapsed}");
        }
    }

    /// <summary>Attempts an upgrade that the server must refuse; returns the HTTP status and Retry-After.</summary>
    private static async Task<(HttpStatusCode Status, string? RetryAfter)> RefusedAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, Ct));
        var headers = socket.HttpResponseHeaders;
        var retryAfter = headers is not null && headers.TryGetValue("Retry-After", out var values) ? values.FirstOrDefault() : null;
        return (socket.HttpStatusCode, retryAfter);
    }
}
