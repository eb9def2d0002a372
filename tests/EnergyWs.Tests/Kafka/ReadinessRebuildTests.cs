using EnergyWs.Health;
using EnergyWs.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Kafka;

public sealed class ReadinessRebuildTests
{
    [Fact]
    public async Task Readiness_WhileHistoryIsReadBack_IsRedUntilTheLiveStartIsReached()
    {
        var state = new ConsumerState(new FakeTimeProvider());
        var check = new KafkaReadinessCheck(state, Options.Create(new KafkaOptions { BootstrapServers = "b:9092" }));
        // Partition 0 starts 10 records below its live end (offset 20); partition 1 has nothing to read back.
        state.AddPartition(0, nextOffset: 10, liveFrom: 20);
        state.AddPartition(1, nextOffset: 5, liveFrom: 5);
        state.Contact();

        var rebuilding = await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, rebuilding.Status);
        Assert.Contains("rebuilding history", rebuilding.Description, StringComparison.Ordinal);

        for (var offset = 10; offset < 19; offset++)
        {
            state.Consumed(0, offset);
        }

        Assert.Equal(HealthStatus.Unhealthy, (await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);

        state.Consumed(0, 19);

        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);
    }

    [Fact]
    public async Task Readiness_WhileAListedPartitionIsUnassigned_IsRedAndNamesIt()
    {
        var state = new ConsumerState(new FakeTimeProvider());
        var check = new KafkaReadinessCheck(state, Options.Create(new KafkaOptions { BootstrapServers = "b:9092", Topic = "meters" }));
        state.Discovered(0);
        state.Discovered(1);
        state.AddPartition(0, nextOffset: 5, liveFrom: 5);
        state.Waiting(1, "Local: Timed out");
        state.Contact();

        var waiting = await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, waiting.Status);
        Assert.Equal("waiting for meters partition 1 to be assigned: Local: Timed out", waiting.Description);

        state.AddPartition(1, nextOffset: 0, liveFrom: 0);

        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);
    }
}
