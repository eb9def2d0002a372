using EnergyWs.Auth;
using EnergyWs.Health;
using EnergyWs.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Performance;

/// <summary>What keeps an idle server's resident memory small after it starts.</summary>
[Trait("Category", "Slow")]
public sealed class StartupMemoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HeapIsCompactedOnce_OnlyWhenPartitionsAreAssignedAndHistoryIsReadBack()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var consumer = new ConsumerState(time);
        var logger = new FakeLogger<StartupHeapCompaction>();
        var collections = 0;
        using var service = new StartupHeapCompaction(consumer, time, logger) { Collect = () => Interlocked.Increment(ref collections) };
        await service.StartAsync(Ct);

        // Not assigned yet; then assigned but still reading history back (position 0, live from 3).
        await LooksAgainAsync(service, time);
        await LooksAgainAsync(service, time);
        consumer.AddPartition(new PartitionKey("meters", 0), nextOffset: 0, liveFrom: 3);
        await LooksAgainAsync(service, time);
        await LooksAgainAsync(service, time);
        Assert.Equal(0, Volatile.Read(ref collections));

        consumer.Consumed(new PartitionKey("meters", 0), offset: 2);
        await LooksAgainAsync(service, time);
        await service.ExecuteTask!.WaitAsync(Ct);
        Assert.Equal(1, collections);
        Assert.Contains("managed heap compacted", logger.Collector.LatestRecord.Message, StringComparison.Ordinal);
        await service.StopAsync(Ct);
    }

    [Fact]
    public async Task StoppedBeforeReady_EndsQuietlyWithoutCompacting()
    {
        // What a failed start does: the host stops its services before the consumer was assigned.
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var logger = new FakeLogger<StartupHeapCompaction>();
        var collections = 0;
        using var service = new StartupHeapCompaction(new ConsumerState(time), time, logger) { Collect = () => collections++ };
        await service.StartAsync(Ct);
        await LooksAgainAsync(service, time);

        await service.StopAsync(Ct);

        Assert.True(service.ExecuteTask!.IsCompletedSuccessfully, "a service that faults on stopping is logged by the host as failed");
        Assert.Equal(0, collections);
        Assert.Empty(logger.Collector.GetSnapshot());
    }

    /// <summary>Advances the fake clock until the service has checked readiness once more.</summary>
    private static Task LooksAgainAsync(StartupHeapCompaction service, FakeTimeProvider time)
    {
        var before = service.Checks;
        return Eventually.TrueAsync(() =>
        {
            if (service.Checks > before)
            {
                return true;
            }

            // Repeated advances are harmless: the service waits on one delay at a time.
            time.Advance(StartupHeapCompaction.PollInterval);
            return false;
        }, "the service looks at readiness again", Ct);
    }

    [Fact]
    public void DefaultSettings_RegisterTheCompaction_AndNoDataProtection()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Auth:Authority"] = "https://id.example.test/application/o/energy/",
            ["Auth:Audience"] = "energy-ws",
        });
        builder.AddHosting();
        builder.AddHealth();
        builder.AddAuth();

        Assert.Contains(builder.Services, d => d.ServiceType == typeof(IHostedService) && !d.IsKeyedService && d.ImplementationType == typeof(StartupHeapCompaction));
        // Nothing here uses Data Protection: its key ring warm-up would load XML and crypto and write a key file.
        Assert.DoesNotContain(builder.Services, d =>
            ((d.IsKeyedService ? d.KeyedImplementationType : d.ImplementationType) ?? d.ServiceType).Assembly.GetName().Name == "Microsoft.AspNetCore.DataProtection");
    }
}
