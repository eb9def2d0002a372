using System.Diagnostics;

namespace EnergyWs.Tests.Hosting;

/// <summary>Runs the real service binary as a user would, with a bad setting.</summary>
[Trait("Category", "Slow")]
public sealed class StartupConfigurationTests
{
    [Theory]
    [InlineData("Kafka__Topic", "bad topic!", "Kafka:Topic")]
    [InlineData("Kafka__BootstrapServers", "no-port-here", "Kafka:BootstrapServers")]
    [InlineData("Streaming__MaxConnections", "0", "Streaming:MaxConnections")]
    [InlineData("Streaming__SlowClientTimeout", "00:00:00.001", "Streaming:SlowClientTimeout")]
    [InlineData("Streaming__MaxConnections", "many", "Streaming:MaxConnections")]
    [InlineData("Streaming__DirectSocketWrites", "yes", "Streaming:DirectSocketWrites")]
    [InlineData("Management__Port", "70000", "Management:Port")]
    [InlineData("Management__Host", "lan", "Management:Host")]
    [InlineData("Hosting__KnownNetworks__0", "10.42.0.0/40", "Hosting:KnownNetworks:0")]
    [InlineData("Hosting__KnownProxies__0", "traefik", "Hosting:KnownProxies:0")]
    [InlineData("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true", "Hosting:KnownProxies or Hosting:KnownNetworks")]
    [InlineData("Streaming__MaxConnectionsPerUser", "-1", "Streaming:MaxConnectionsPerUser")]
    [InlineData("Streaming__ApiRequestsPerMinute", "-1", "Streaming:ApiRequestsPerMinute")]
    [InlineData("Streams__heatpump__Topic", "homelab.energy", "Streams:heatpump:Topic")]
    [InlineData("Streams__HeatPump__Topic", "homelab-heatpump-telemetry", "Streams:HeatPump")]
    [InlineData("Streams__energy__Format", "json", "Streams:energy:Format")]
    public async Task Startup_InvalidSetting_ExitsNonZeroWithOneLineNamingIt(string variable, string value, string setting)
    {
        var (exitCode, stdout, stderr) = await RunServiceAsync(new()
        {
            ["Kafka__BootstrapServers"] = "127.0.0.1:9",
            [variable] = value,
        });

        Assert.NotEqual(0, exitCode);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.Contains(setting, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Startup_ManagementPortIsThePublicPort_ExitsNonZeroWithOneLineNamingIt()
    {
        var (exitCode, stdout, stderr) = await RunServiceAsync(new()
        {
            ["Kafka__BootstrapServers"] = "127.0.0.1:9",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:18080",
            ["Management__Port"] = "18080",
        });

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("energy-ws: invalid configuration: Management:Port 18080 is also a public port; the management endpoint needs a port of its own.", line);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "certificate")]
    [InlineData("/nonexistent/energy-ws.pfx", "/nonexistent/energy-ws.pfx")]
    public async Task Startup_HttpsWithoutUsableCertificate_ExitsNonZeroWithOneLineSayingSo(string? certificatePath, string named)
    {
        var environment = new Dictionary<string, string>
        {
            ["Kafka__BootstrapServers"] = "127.0.0.1:9",
            ["ASPNETCORE_URLS"] = "https://127.0.0.1:0",
        };
        if (certificatePath is not null)
        {
            environment["Kestrel__Certificates__Default__Path"] = certificatePath;
        }

        AssertFailedToStartWithOneLineNaming(named, await RunServiceAsync(environment));
    }

    [Fact]
    public async Task Startup_AddressInUse_ExitsNonZeroWithOneLineNamingIt()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var address = $"http://127.0.0.1:{((System.Net.IPEndPoint)taken.LocalEndpoint).Port}";

        AssertFailedToStartWithOneLineNaming(address, await RunServiceAsync(new()
        {
            ["Kafka__BootstrapServers"] = "127.0.0.1:9",
            ["ASPNETCORE_URLS"] = address,
        }));
    }

    [Fact]
    public async Task Startup_ProductionWithoutBroker_FailsNamingBootstrapServers()
    {
        var (exitCode, _, stderr) = await RunServiceAsync(new());

        Assert.Equal(1, exitCode);
        Assert.Contains("Kafka:BootstrapServers", stderr, StringComparison.Ordinal);
    }

    /// <summary>Exit code 1 and, on stderr, only the one line that says what kept the server from starting.</summary>
    private static void AssertFailedToStartWithOneLineNaming(string named, (int ExitCode, string Stdout, string Stderr) run)
    {
        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("energy-ws: failed to start: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunServiceAsync(Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "energy-ws.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["Auth__Enabled"] = "false";
        // Tests run side by side: the default management port would be taken.
        start.Environment["Management__Port"] = "0";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the service did not exit on an invalid setting");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
