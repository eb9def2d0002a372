using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EnergyWs.Tests.Kafka;

/// <summary>One consumer for several topics: each partition of each is read, and a missing topic holds back no other.</summary>
public sealed class MultiTopicTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Consumer_OneTopicMissing_OthersStreamReadinessNamesItAndItIsReadOnceCreated()
    {
        using var kafka = new TestKafka();
        var present = await kafka.CreateTopicAsync(partitions: 2);
        var missing = TestKafka.NewTopicName();
        await using var app = await new EnergyWsApp(
            kafka.BootstrapServers,
            present,
            new Dictionary<string, string?> { ["Kafka:PartitionRefreshInterval"] = "00:00:01" },
            services => services.AddSingleton(new KafkaTopics([present, missing]))).StartAsync(Ct);
        var state = app.Get<ConsumerState>();
        using var management = new HttpClient { BaseAddress = app.ManagementAddress };
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct);
        using var producer = kafka.CreateProducer();

        await Eventually.TrueAsync(() => state.UnavailableTopics.Any(t => t.Key == missing), "the missing topic is known to be missing", Ct);
        var degraded = await management.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct);
        Assert.Contains($"\"kafka\":{{\"status\":\"Degraded\",\"description\":\"consuming {present}; topic {missing} unavailable", degraded, StringComparison.Ordinal);
        await SeedReadings.ProduceAsync(producer, present, [SeedReadings.Json(0)]);
        Assert.Equal(SeedReadings.Json(0), await client.ReceiveAsync());

        await kafka.CreateTopicAsync(missing);
        await Eventually.TrueAsync(() => state.Partitions.Any(p => p.Key == new PartitionKey(missing, 0)), "the created topic is assigned", Ct);
        await SeedReadings.ProduceAsync(producer, missing, [SeedReadings.Json(1)]);
        await SeedReadings.ProduceAsync(producer, present, [SeedReadings.Json(2)]);

        Assert.Equal([SeedReadings.Json(1), SeedReadings.Json(2)], await client.ReceiveManyAsync(2));
        Assert.Equal(2, state.Partitions.Count(p => p.Key.Topic == present));
        Assert.Contains($"\"kafka\":{{\"status\":\"Healthy\",\"description\":\"consuming {present}, {missing}\"}}", await management.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct), StringComparison.Ordinal);
    }
}
