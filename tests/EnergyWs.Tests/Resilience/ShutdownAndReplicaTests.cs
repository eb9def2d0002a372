using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EnergyWs.Tests.Resilience;

[Trait("Category", "Slow")]
[Collection(ResilienceCollection.Name)]
public sealed class ShutdownAndReplicaTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task Shutdown_UnderLoad_EveryClientGets1001WithinShutdownTimeout()
    {
        var clientCount = ResilienceScale.Pick(200, 1_000);
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var app = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
        List<WsClient> clients = [];
        try
        {
            var shutdownTimeout = app.Get<IOptions<HostOptions>>().Value.ShutdownTimeout;
            clients = await BrokerOutageTests.ConnectAsync(app, clientCount);
            await Eventually.TrueAsync(() => app.Get<Broadcaster>().Count == clientCount, "every client is registered", Ct);

            // Load: readings keep flowing to every client while the host stops.
            using var producer = kafka.CreateProducer();
            using var stopProducing = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var produce = Task.Run(async () =>
            {
                using var ticker = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
                for (var i = 0; await ticker.WaitForNextTickAsync(stopProducing.Token).AsTask().ContinueWith(t => t is { IsCompletedSuccessfully: true, Result: true }, TaskScheduler.Default); i++)
                {
                    producer.Produce(topic, new Confluent.Kafka.Message<byte[]?, byte[]?> { Value = Encoding.UTF8.GetBytes(SeedReadings.Json(i)) });
                }
            }, CancellationToken.None);
            await clients[^1].ReceiveAsync();

            // What SIGTERM does: the host stops (lifetime → ApplicationStopping → server stop), bounded by ShutdownTimeout.
            var sw = Stopwatch.StartNew();
            var closedAt = new TimeSpan[clientCount];
            var watches = clients.Select((c, i) => c.Closed.ContinueWith(_ => closedAt[i] = sw.Elapsed, TaskScheduler.Default)).ToList();
            var stop = app.DisposeAsync().AsTask();
            await Task.WhenAll(watches).WaitAsync(shutdownTimeout + TimeSpan.FromSeconds(5), Ct);
            var lastClose = closedAt.Max();
            await stop;
            var stopped = sw.Elapsed;
            await stopProducing.CancelAsync();
            await produce;

            foreach (var client in clients)
            {
                var (status, description) = await client.Closed;
                Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status);
                Assert.Equal("server shutting down", description);
            }

            Assert.True(lastClose <= shutdownTimeout, $"the last client got 1001 after {lastClose.TotalSeconds:0.00} s (ShutdownTimeout {shutdownTimeout.TotalSeconds:0} s)");
            Assert.True(stopped <= shutdownTimeout + TimeSpan.FromSeconds(2), $"the host took {stopped.TotalSeconds:0.00} s to stop");
            ResilienceScale.Report("shutdown under load",
                $"{clientCount:N0} clients streaming 100 readings/s: every client got 1001 'server shutting down', the last {lastClose.TotalMilliseconds:0} ms after stop began; host stopped in {stopped.TotalMilliseconds:0} ms (ShutdownTimeout {shutdownTimeout.TotalSeconds:0} s)");
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

    [Fact(Timeout = 300_000)]
    public async Task Replicas_OneStoppedMidStream_OtherClientsReceiveEveryReadingWithoutDisconnect()
    {
        var perReplica = ResilienceScale.Pick(10, 100);
        var readings = ResilienceScale.Pick(300, 3_000);
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var first = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
        List<WsClient> firstClients = [];
        try
        {
            await using var second = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
            firstClients = await BrokerOutageTests.ConnectAsync(first, perReplica);
            var secondClients = await BrokerOutageTests.ConnectAsync(second, perReplica);
            await Eventually.TrueAsync(() => first.Get<Broadcaster>().Count == perReplica && second.Get<Broadcaster>().Count == perReplica, "every client is registered", Ct);

            using var producer = kafka.CreateProducer();
            var expected = Enumerable.Range(0, readings).Select(SeedReadings.Json).ToList();
            var sw = Stopwatch.StartNew();
            TimeSpan? killedAt = null;
            Task? stopping = null;
            using var ticker = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
            for (var i = 0; i < readings; i++)
            {
                await ticker.WaitForNextTickAsync(Ct);
                producer.Produce(topic, new Confluent.Kafka.Message<byte[]?, byte[]?> { Value = Encoding.UTF8.GetBytes(expected[i]) });
                if (i == readings / 2)
                {
                    killedAt = sw.Elapsed;
                    stopping = first.DisposeAsync().AsTask();
                }
            }

            await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(30)), Ct);
            await stopping!;

            // Both replicas delivered the first half; the survivor delivered everything, in order, without a break.
            foreach (var client in secondClients)
            {
                Assert.Equal(expected, await client.ReceiveManyAsync(expected.Count));
                Assert.False(client.Closed.IsCompleted);
            }

            foreach (var client in firstClients)
            {
                var got = new List<string>();
                while (client.TryReceive(out var message))
                {
                    got.Add(message!);
                }

                Assert.True(got.Count > readings / 4, $"a client of the stopped replica got only {got.Count} readings");
                Assert.Equal(expected.Take(got.Count), got);
                Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, (await client.Closed).Status);
            }

            Assert.Equal(perReplica, second.Get<Broadcaster>().Count);
            ResilienceScale.Report("replicas",
                $"2 instances x {perReplica} clients, {readings:N0} readings at 100/s, one instance stopped after {killedAt!.Value.TotalSeconds:0.0} s: " +
                "its clients got 1001 with an in-order prefix; every client of the other received all readings in order, no disconnect");
            foreach (var client in secondClients)
            {
                await client.DisposeAsync();
            }
        }
        finally
        {
            await first.DisposeAsync();
            foreach (var client in firstClients)
            {
                await client.DisposeAsync();
            }
        }
    }
}
