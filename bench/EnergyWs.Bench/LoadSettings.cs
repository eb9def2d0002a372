using System.Globalization;

namespace EnergyWs.Bench;

/// <summary>Command line of the load generator.</summary>
public sealed record LoadSettings
{
    public Uri Url { get; init; } = new("ws://127.0.0.1:8080/ws");

    public string? Token { get; init; }

    public string Bootstrap { get; init; } = "127.0.0.1:9092";

    public string Topic { get; init; } = "homelab.energy";

    public int Clients { get; init; } = 100;

    /// <summary>Readings produced per second (all clients receive every one).</summary>
    public double Rate { get; init; } = 2;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After the last reading, how long to wait for stragglers before counting losses.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Before measuring, readings at min(rate, 200)/s for this long, not counted: a JIT server
    /// reaches its optimized code (tiered compilation) as it would after minutes in production.
    /// </summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.Zero;

    public int? ServerPid { get; init; }

    /// <summary>Connections opened at once; more only queues in the server's accept backlog.</summary>
    public int ConnectConcurrency { get; init; } = 64;

    /// <summary>Distinct 127.0.0.x source addresses; each gives ~28k ephemeral ports.</summary>
    public int SourceAddresses { get; init; } = 16;

    /// <summary>Hold the connections for the duration without producing (idle-connection cost).</summary>
    public bool Idle { get; init; }

    public string Label { get; init; } = "";

    public static LoadSettings Parse(string[] args)
    {
        var s = new LoadSettings();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            s = args[i] switch
            {
                "--url" => s with { Url = new Uri(Next()) },
                "--token" => s with { Token = Next() },
                "--bootstrap" => s with { Bootstrap = Next() },
                "--topic" => s with { Topic = Next() },
                "--clients" => s with { Clients = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--rate" => s with { Rate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--duration" => s with { Duration = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--settle" => s with { Settle = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--warmup" => s with { Warmup = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--server-pid" => s with { ServerPid = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--connect-concurrency" => s with { ConnectConcurrency = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--source-addresses" => s with { SourceAddresses = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--idle" => s with { Idle = true },
                "--label" => s with { Label = Next() },
                var other => throw new ArgumentException($"unknown argument {other}"),
            };
        }

        return s;
    }
}
