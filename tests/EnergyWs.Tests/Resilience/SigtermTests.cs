using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Resilience;

/// <summary>The real process, the real signal: what an orchestrator does on a rolling update.</summary>
[Trait("Category", "Slow")]
[Collection(ResilienceCollection.Name)]
public sealed class SigtermTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task Sigterm_WithClientsConnected_EveryClientGets1001AndProcessExitsZero()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "sends a POSIX signal");
        var clientCount = ResilienceScale.Pick(50, 1_000);
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var port = FreePort();
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "energy-ws.exe" : "energy-ws"))
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["DOTNET_ENVIRONMENT"] = "Testing";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        start.Environment["Kafka__BootstrapServers"] = kafka.BootstrapServers;
        start.Environment["Kafka__Topic"] = topic;
        start.Environment["Kafka__ProbeInterval"] = "00:00:00.250";
        start.Environment["Demo__Enabled"] = "false";
        start.Environment["Auth__Enabled"] = "false";
        start.Environment["Streaming__ConnectAttemptsPerMinute"] = "0";
        start.Environment["Streaming__MaxConnectionsPerUser"] = "0";
        start.Environment["Management__Port"] = "0";
        start.Environment["Logging__LogLevel__Default"] = "Warning";

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var errors = process.StandardError.ReadToEndAsync(Ct);
        var clients = new List<WsClient>();
        try
        {
            var baseAddress = new Uri($"http://127.0.0.1:{port}");
            using var http = new HttpClient { BaseAddress = baseAddress };
            await Eventually.TrueAsync(() => !process.HasExited && Ready(http), "the process is ready", Ct);
            var uri = new Uri($"ws://127.0.0.1:{port}/ws");
            var connected = new WsClient[clientCount];
            await Parallel.ForAsync(0, clientCount, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct }, async (i, ct) =>
                connected[i] = await WsClient.ConnectAsync(uri, cancellationToken: ct));
            clients.AddRange(connected);

            // Readings flowing when the signal arrives.
            using (var producer = kafka.CreateProducer())
            {
                await SeedReadings.ProduceAsync(producer, topic, Enumerable.Range(0, 10).Select(SeedReadings.Json));
            }

            foreach (var client in clients)
            {
                Assert.Equal(SeedReadings.Json(0), await client.ReceiveAsync());
            }

            var sw = Stopwatch.StartNew();
            var closedAt = new TimeSpan[clientCount];
            var watches = clients.Select((c, i) => c.Closed.ContinueWith(_ => closedAt[i] = sw.Elapsed, TaskScheduler.Default)).ToList();
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(Ct);
            }

            await Task.WhenAll(watches).WaitAsync(TimeSpan.FromSeconds(35), Ct);
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(35), Ct);
            var exited = sw.Elapsed;

            foreach (var client in clients)
            {
                var (status, description) = await client.Closed;
                Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status);
                Assert.Equal("server shutting down", description);
            }

            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await errors}");
            // ShutdownTimeout is the host's default, 30 s.
            Assert.True(closedAt.Max() <= TimeSpan.FromSeconds(30), $"the last client got 1001 after {closedAt.Max().TotalSeconds:0.00} s");
            ResilienceScale.Report("SIGTERM",
                $"{clientCount:N0} clients on the real process: every client got 1001 'server shutting down', the last {closedAt.Max().TotalMilliseconds:0} ms after SIGTERM; process exited 0 after {exited.TotalMilliseconds:0} ms");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }

            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            try
            {
                await Task.WhenAll(output, errors);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static bool Ready(HttpClient http)
    {
        try
        {
            using var response = http.Send(new HttpRequestMessage(HttpMethod.Get, "/health/ready"));
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
