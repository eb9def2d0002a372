using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Aot;

/// <summary>
/// Runs the Native AOT binary end to end: its own embedded broker and simulated meter, a real
/// WebSocket client. An AOT publish takes minutes, so the test uses a binary that already exists
/// (artifacts/aot/energy-ws, or ENERGYWS_AOT_BINARY) and is skipped without one, unless
/// ENERGYWS_TEST_AOT=1 demands it.
/// </summary>
public sealed partial class AotSmokeTests
{
    private const string PublishHint =
        "no Native AOT binary: run `dotnet publish src/EnergyWs -c Release -r linux-x64 -p:PublishAot=true -o artifacts/aot` (or set ENERGYWS_AOT_BINARY)";

    [Fact]
    public async Task AotBinary_DemoMode_StreamsReadingsOverWebSocket()
    {
        var binary = FindBinary();
        if (binary is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("ENERGYWS_TEST_AOT") == "1", $"ENERGYWS_TEST_AOT=1 but {PublishHint}");
            Assert.Skip(PublishHint);
        }

        var ct = TestContext.Current.CancellationToken;
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(binary)!,
        };
        foreach (var arg in new[] { "--urls", "http://127.0.0.1:0", "--Demo:Enabled=true", "--Demo:Interval=00:00:00.100", "--Auth:Enabled=false" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("the AOT binary did not start");
        try
        {
            var url = await ReadWebSocketUrlAsync(process, ct);
            await using var client = await WsClient.ConnectAsync(url, cancellationToken: ct);

            using var json = JsonDocument.Parse(await client.ReceiveAsync());
            Assert.True(json.RootElement.GetProperty("power_w").GetDouble() > 0);
            Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty("timestamp").ValueKind);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>The demo announces its WebSocket address once Kestrel listens; read it from stdout.</summary>
    private static async Task<Uri> ReadWebSocketUrlAsync(Process process, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Eventually.DefaultTimeout);
        var seen = new List<string>();
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            seen.Add(line);
            if (WebSocketUrl().Match(line) is { Success: true } match)
            {
                return new Uri(match.Groups[1].Value);
            }
        }

        var stderr = await process.StandardError.ReadToEndAsync(cancellationToken);
        throw new InvalidOperationException($"The AOT binary exited before listening:\n{string.Join('\n', seen)}\n{stderr}");
    }

    private static string? FindBinary()
    {
        if (Environment.GetEnvironmentVariable("ENERGYWS_AOT_BINARY") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EnergyWs.slnx")))
            {
                var candidate = Path.Combine(dir.FullName, "artifacts", "aot", "energy-ws");
                return File.Exists(candidate) ? candidate : null;
            }
        }

        return null;
    }

    [GeneratedRegex(@"WebSocket: (ws://\S+)")]
    private static partial Regex WebSocketUrl();
}
