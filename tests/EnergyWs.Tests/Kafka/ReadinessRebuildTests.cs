using EnergyWs.Health;
using EnergyWs.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Kafka;

public sealed class ReadinessRebuildTests
{
    private static PartitionKey P(int partition, string topic = "meters") => new(topic, partition);

    [Fact]
    public async Task Readiness_WhileHistoryIsReadBack_IsRedUntilTheLiveStartIsReached()
    {
        var state = new ConsumerState(new FakeTimeProvider());
        var check = new KafkaReadinessCheck(state, new KafkaTopics(["meters"]), Options.Create(new KafkaOptions { BootstrapServers = "b:9092", Topic = "meters" }));
        // Partition 0 starts 10 records below its live end (offset 20); partition 1 has nothing to read back.
        state.AddPartition(P(0), nextOffset: 10, liveFrom: 20);
        state.AddPartition(P(1), nextOffset: 5, liveFrom: 5);
        state.Contact();

        var rebuilding = await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, rebuilding.Status);
        Assert.Contains("rebuilding history", rebuilding.Description, StringComparison.Ordinal);

        for (var offset = 10; offset < 19; offset++)
        {
            state.Consumed(P(0), offset);
        }

        Assert.Equal(HealthStatus.Unhealthy, (await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);

        state.Consumed(P(0), 19);

        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);
    }

    [Fact]
    public async Task Readiness_WhileAListedPartitionIsUnassigned_IsRedAndNamesIt()
    {
        var state = new ConsumerState(new FakeTimeProvider());
        var check = new KafkaReadinessCheck(state, new KafkaTopics(["meters"]), Options.Create(new KafkaOptions { BootstrapServers = "b:9092", Topic = "meters" }));
        state.Discovered(P(0));
        state.Discovered(P(1));
        state.AddPartition(P(0), nextOffset: 5, liveFrom: 5);
        state.Waiting(P(1), "Local: Timed out");
        state.Contact();

        var waiting = await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, waiting.Status);
        Assert.Equal("waiting for meters partition 1 to be assigned: Local: Timed out", waiting.Description);

        state.AddPartition(P(1), nextOffset: 0, liveFrom: 0);

        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);
    }

    [Fact]
    public async Task Readiness_PartitionsOfSeveralTopicsUnassigned_NamesEachTopicsPartitions()
    {
        var state = new ConsumerState(new FakeTimeProvider());
        var check = new KafkaReadinessCheck(state, new KafkaTopics(["meters", "heatpump"]), Options.Create(new KafkaOptions { BootstrapServers = "b:9092", Topic = "meters" }));
        state.AddPartition(P(0), nextOffset: 5, liveFrom: 5);
        state.Waiting(P(1), "Local: Timed out");
        state.Waiting(P(2, "heatpump"), "Local: Timed out");
        state.Waiting(P(0, "heatpump"), "Local: Timed out");
        state.Contact();

        var waiting = await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);

        Assert.Equal(HealthStatus.Unhealthy, waiting.Status);
        Assert.Equal("waiting for heatpump partitions 0, 2; meters partition 1 to be assigned: Local: Timed out", waiting.Description);
    }

    [Fact]
    public async Task Readiness_OneTopicMissingWhileAnotherIsRead_IsDegradedAndNamesIt()
    {
        var state = new ConsumerState(new FakeTimeProvider());
        var check = new KafkaReadinessCheck(state, new KafkaTopics(["meters", "heatpump"]), Options.Create(new KafkaOptions { BootstrapServers = "b:9092", Topic = "meters" }));
        state.TopicListed("meters");
        state.AddPartition(P(0), nextOffset: 5, liveFrom: 5);
        state.TopicUnavailable("heatpump", "Broker: Unknown topic or partition");
        state.Contact();

        var missing = await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Degraded, missing.Status);
        Assert.Equal("consuming meters; topic heatpump unavailable: Broker: Unknown topic or partition", missing.Description);

        state.TopicListed("heatpump");
        state.AddPartition(P(0, "heatpump"), nextOffset: 0, liveFrom: 0);

        var both = await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Healthy, both.Status);
        Assert.Equal("consuming meters, heatpump", both.Description);
    }

    [Fact]
    public void State_TopicUnavailableAfterItWasListed_IsAnErrorOnlyNotAMissingTopic()
    {
        // A metadata refresh that fails later (a broker restarting) must not make a topic being read look missing.
        var state = new ConsumerState(new FakeTimeProvider());
        state.TopicListed("meters");

        state.TopicUnavailable("meters", "Local: Broker transport failure");

        Assert.Empty(state.UnavailableTopics);
    }
}
