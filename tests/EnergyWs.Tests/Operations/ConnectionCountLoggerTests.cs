using System.Net.WebSockets;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Operations;

public sealed class ConnectionCountLoggerTests
{
    [Fact]
    public async Task ConnectionCount_LoggedOnChangeAtMostEveryFewSecondsAndEveryMinute()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var logger = new FakeLogger<ConnectionCountLogger>();
        var broadcaster = new Broadcaster(Microsoft.Extensions.Options.Options.Create(new StreamingOptions()));
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new StreamingMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        using var service = new ConnectionCountLogger(broadcaster, time, logger);
        var counts = () => logger.Collector.GetSnapshot().Select(r => r.GetStructuredStateValue("Connections")).ToList();

        await service.StartAsync(TestContext.Current.CancellationToken);
        // BackgroundService runs ExecuteAsync on the thread pool.
        await Eventually.TrueAsync(() => counts().Count == 1, "the start count is logged", TestContext.Current.CancellationToken);
        Assert.Equal(["0"], counts());

        // Three clients arrive within one interval: one line, not three.
        for (var i = 0; i < 3; i++)
        {
            Assert.True(broadcaster.TryAdd(NewConnection(metrics, time), int.MaxValue));
        }

        time.Advance(ConnectionCountLogger.ChangeInterval - TimeSpan.FromMilliseconds(1));
        Assert.Equal(["0"], counts());
        time.Advance(TimeSpan.FromMilliseconds(1));
        // The timer's continuation runs on the thread pool.
        await Eventually.TrueAsync(() => counts().Count == 2, "the change is logged", TestContext.Current.CancellationToken);
        Assert.Equal(["0", "3"], counts());

        // No change: silent until the minute is up, then a heartbeat line.
        time.Advance(ConnectionCountLogger.HeartbeatInterval - ConnectionCountLogger.ChangeInterval);
        Assert.Equal(["0", "3"], counts());
        time.Advance(ConnectionCountLogger.ChangeInterval);
        await Eventually.TrueAsync(() => counts().Count == 3, "the heartbeat is logged", TestContext.Current.CancellationToken);
        Assert.Equal(["0", "3", "3"], counts());
        Assert.Equal("3 clients connected", logger.Collector.LatestRecord.Message);

        await service.StopAsync(TestContext.Current.CancellationToken);
    }

    private static ClientConnection NewConnection(StreamingMetrics metrics, TimeProvider time)
    {
        var transport = new WebSocketTransport(new MemoryStream());
        return new(WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true }), transport,
            ClientSelection.All, "127.0.0.1:1", new StreamingOptions(), metrics, time, NullLogger.Instance);
    }
}
