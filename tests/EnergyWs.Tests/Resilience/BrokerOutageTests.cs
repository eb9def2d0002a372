using System.Diagnostics;
using System.Net;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace EnergyWs.Tests.Resilience;

[Trait("Category", "Slow")]
[Collection(ResilienceCollection.Name)]
public sealed class BrokerOutageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task BrokerDown_WithClientsConnected_ReadinessRedThenGreenAndEveryReadingDeliveredOnceInOrder()
    {
        Assert.SkipWhen(TestKafka.IsExternal, "needs the embedded broker to take it down");
        var clientCount = ResilienceScale.Pick(100, 100);
        var outage = ResilienceScale.Pick(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
        const int ratePerSecond = 20;

        await using var stack = await TestStack.StartAsync(settings: null, services: s => s.AddFakeLogging(), Ct);
        using var http = new HttpClient { BaseAddress = stack.App.BaseAddress };
        var clients = await ConnectAsync(stack.App, clientCount);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == clientCount, "every client is registered", Ct);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready", Ct)).StatusCode);

        var next = 0;
        await stack.ProduceAsync(Enumerable.Range(next, 20).Select(SeedReadings.Json));
        next += 20;

        // Down. The stack.Producer keeps accepting readings and buffers them until the broker returns
        // (everything before was flushed, so no request is in flight when the broker vanishes).
        var down = Stopwatch.StartNew();
        stack.Kafka.Embedded!.SetAllBrokers(false);
        TimeSpan? red = null;
        using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / ratePerSecond));
        while (down.Elapsed < outage)
        {
            await ticker.WaitForNextTickAsync(Ct);
            stack.Producer.Produce(stack.Topic, new Confluent.Kafka.Message<byte[]?, byte[]?> { Value = System.Text.Encoding.UTF8.GetBytes(SeedReadings.Json(next++)) });
            if (red is null && (await http.GetAsync("/health/ready", Ct)).StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                red = down.Elapsed;
            }
        }

        Assert.True(red is not null, $"/health/ready stayed green through a {outage.TotalSeconds} s outage");
        Assert.Equal(clientCount, stack.App.Get<Broadcaster>().Count);
        Assert.DoesNotContain(clients, c => c.Closed.IsCompleted);

        var up = Stopwatch.StartNew();
        stack.Kafka.Embedded.SetAllBrokers(true);
        var producedDuringOutage = next - 20;
        await stack.ProduceAsync(Enumerable.Range(next, 20).Select(SeedReadings.Json));
        next += 20;
        var marker = next;
        await stack.ProduceAsync([SeedReadings.Json(marker)]);

        // Exactly once, in order: every reading up to the marker and nothing between (no duplicate, no gap).
        var expected = Enumerable.Range(0, marker + 1).Select(SeedReadings.Json).ToList();
        TimeSpan? caughtUp = null;
        foreach (var client in clients)
        {
            Assert.Equal(expected, await client.ReceiveManyAsync(expected.Count, TimeSpan.FromSeconds(30)));
            caughtUp ??= up.Elapsed;
        }

        while ((await http.GetAsync("/health/ready", Ct)).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(up.Elapsed < TimeSpan.FromSeconds(30), "/health/ready did not turn green within 30 s of recovery");
            await Task.Delay(TimeSpan.FromMilliseconds(50), Ct);
        }

        var green = up.Elapsed;
        Assert.Equal(clientCount, stack.App.Get<Broadcaster>().Count);
        Assert.DoesNotContain(clients, c => c.Closed.IsCompleted);

        // Errors while the broker is away are reported at most once per 10 s, with the count suppressed.
        var kafkaErrors = stack.App.Services.GetFakeLogCollector().GetSnapshot().Count(r => r.Id.Id == 1003);
        var allowed = 2 + (int)(outage.TotalSeconds / 10);
        Assert.True(kafkaErrors <= allowed, $"{kafkaErrors} Kafka error lines for a {outage.TotalSeconds} s outage (allowed {allowed})");

        ResilienceScale.Report("broker outage",
            $"{clientCount} clients, broker down {outage.TotalSeconds:0} s, {producedDuringOutage} readings produced during it; " +
            $"ready red after {red!.Value.TotalMilliseconds:0} ms, first client caught up {caughtUp!.Value.TotalMilliseconds:0} ms and ready green {green.TotalMilliseconds:0} ms after recovery; " +
            $"{expected.Count} readings delivered exactly once in order to every client; 0 disconnects; {kafkaErrors} Kafka error log lines");

        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    internal static async Task<List<WsClient>> ConnectAsync(EnergyWsApp app, int count, string pathAndQuery = "/ws")
    {
        var clients = new WsClient[count];
        // A few at a time: 2 cores, and Kestrel's accept loop is the bottleneck anyway.
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct }, async (i, ct) =>
            clients[i] = await WsClient.ConnectAsync(app.WebSocketUri(pathAndQuery), cancellationToken: ct));
        return [.. clients];
    }
}
