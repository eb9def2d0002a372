using System.Net;
using EnergyWs.Demo;
using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EnergyWs.Tests.Performance;

/// <summary>The settings the load benchmark and a tuned deployment rely on.</summary>
[Trait("Category", "Slow")]
public sealed class BenchSupportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DemoWithSimulatorOff_HostsBrokerButNoSimulatedMeter()
    {
        using var kafka = new TestKafka();
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, "homelab.energy", new Dictionary<string, string?>
        {
            ["Demo:Enabled"] = "true",
            ["Demo:Simulator"] = "false",
        }).StartAsync(Ct);

        var broker = app.Get<EmbeddedKafkaBroker>();
        Assert.Equal(broker.BootstrapServers, app.Get<IOptions<KafkaOptions>>().Value.BootstrapServers);
        Assert.DoesNotContain(app.Services.GetServices<IHostedService>(), s => s is MeterSimulator);
    }

    [Fact]
    public async Task SocketSendBufferBytes_AppliesToTheListeningSocket()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:SocketSendBufferBytes"] = "65536",
        }, Ct);

        var transport = stack.App.Get<IOptions<SocketTransportOptions>>().Value;
        using var socket = transport.CreateBoundListenSocket(new IPEndPoint(IPAddress.Loopback, 0));

        // Linux doubles the requested size for bookkeeping; an untouched socket reports tcp_wmem's 16 KiB default.
        Assert.InRange(socket.SendBufferSize, 65536, 2 * 65536);
    }
}
