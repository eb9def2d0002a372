using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Kafka;

/// <summary>One consumer for every stream's topic: each partition of each is read, and a missing topic holds back no other.</summary>
public sealed class MultiTopicTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Named(string stream, string seed) => $"{{\"stream\":\"{stream}\"," + seed[1..];

    [Fact]
    public async Task Consumer_OneTopicMissing_OthersStreamReadinessNamesItAndItIsReadOnceCreated()
    {
        using var kafka = new TestKafka();
        var present = await kafka.CreateTopicAsync(partitions: 2);
        var missing = TestKafka.NewTopicName();
        await using var app = await new EnergyWsApp(
            kafka.BootstrapServers,
            present,
            new Dictionary<string, string?>
            {
                ["Kafka:PartitionRefreshInterval"] = "00:00:01",
                ["Streams:heatpump:Topic"] = missing,
            }).StartAsync(Ct);
        var state = app.Get<ConsumerState>();
        using var management = new HttpClient { BaseAddress = app.ManagementAddress };
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri("/ws?stream=energy,heatpump"), cancellationToken: Ct);
        using var producer = kafka.CreateProducer();

        await Eventually.TrueAsync(() => state.UnavailableTopics.Any(t => t.Key == missing), "the missing topic is known to be missing", Ct);
        var degraded = await management.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct);
        Assert.Contains($"\"kafka\":{{\"status\":\"Degraded\",\"description\":\"consuming {present}; topic {missing} unavailable", degraded, StringComparison.Ordinal);
        await SeedReadings.ProduceAsync(producer, present, [SeedReadings.Json(0)]);
        Assert.Equal(Named("energy", SeedReadings.Json(0)), await client.ReceiveAsync());

        await kafka.CreateTopicAsync(missing);
        await Eventually.TrueAsync(() => state.Partitions.Any(p => p.Key == new PartitionKey(missing, 0)), "the created topic is assigned", Ct);
        await SeedReadings.ProduceAsync(producer, missing, ["""{"ts":"2026-11-30T18:04:07Z","outdoor_temp":-3}"""]);
        await SeedReadings.ProduceAsync(producer, present, [SeedReadings.Json(2)]);

        var frames = await client.ReceiveManyAsync(2);
        Assert.StartsWith("""{"stream":"heatpump","timestamp":""", frames[0], StringComparison.Ordinal);
        Assert.EndsWith(""","ts":"2026-11-30T18:04:07Z","outdoor_temp":-3}""", frames[0], StringComparison.Ordinal);
        Assert.Equal(Named("energy", SeedReadings.Json(2)), frames[1]);
        Assert.Equal(2, state.Partitions.Count(p => p.Key.Topic == present));
        Assert.Contains($"\"kafka\":{{\"status\":\"Healthy\",\"description\":\"consuming {present}, {missing}\"}}", await management.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct), StringComparison.Ordinal);
    }
}
