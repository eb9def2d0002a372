using EnergyWs.Kafka;

namespace EnergyWs.Bench;

/// <summary>
/// Hosts the librdkafka mock broker in its own process for the load scenarios, so the server under
/// test is measured (RSS, CPU) as it runs in a deployment: a Kafka client of a broker elsewhere,
/// not the host of one. Prints <c>bootstrap=host:port</c> once the topic exists; stops on SIGTERM
/// or Ctrl+C.
/// </summary>
internal static class BrokerHost
{
    public static async Task<int> RunAsync(string[] args)
    {
        var topic = "homelab.energy";
        var partitions = 1;
        for (var i = 0; i < args.Length - 1; i += 2)
        {
            switch (args[i])
            {
                case "--topic": topic = args[i + 1]; break;
                case "--partitions": partitions = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                default:
                    await Console.Error.WriteLineAsync($"unknown option {args[i]}");
                    return 2;
            }
        }

        using var broker = new EmbeddedKafkaBroker();
        broker.CreateTopic(topic, partitions);
        Console.WriteLine($"bootstrap={broker.BootstrapServers}");
        Console.Out.Flush();

        using var stop = new CancellationTokenSource();
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
