using BenchmarkDotNet.Running;
using EnergyWs.Bench;

// Two tools in one project, so both run against the same build of the service's code:
//   micro [BenchmarkDotNet args]  hot-path micro-benchmarks (decode, serialize, fan-out)
//   load  --url … --clients N …   end-to-end load against a running energy-ws
//   history [--appends N]        the consumer's Append latency, alone and while a reader scans the history
//   broker [--topic t]            the mock Kafka broker in a process of its own, for load runs
var mode = args.Length > 0 ? args[0] : "";
var rest = args.Length > 0 ? args[1..] : [];
switch (mode)
{
    case "micro":
        BenchmarkSwitcher.FromAssembly(typeof(LoadGenerator).Assembly).Run(rest);
        return 0;
    case "load":
        return await LoadGenerator.RunAsync(LoadSettings.Parse(rest));
    case "history":
        return HistoryContention.Run(rest);
    case "broker":
        return await BrokerHost.RunAsync(rest);
    default:
        await Console.Error.WriteLineAsync("usage: EnergyWs.Bench micro [--filter *] | load --url ws://host:port/ws --bootstrap host:port [--topic t] [--clients N] [--rate R] [--duration s] [--server-pid pid] [--token t] [--idle] | history [--appends N] | broker [--topic t] [--partitions n]");
        return 2;
}
