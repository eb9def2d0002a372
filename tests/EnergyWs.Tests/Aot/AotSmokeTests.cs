using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using EnergyWs.Tests.Auth;
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
        var binary = RequireBinary();
        var ct = TestContext.Current.CancellationToken;
        using var process = Start(binary, "--Auth:Enabled=false");
        try
        {
            var url = await ReadWebSocketUrlAsync(process, ct);
            await using var client = await WsClient.ConnectAsync(url, cancellationToken: ct);
            AssertIsReading(await client.ReceiveAsync());
        }
        finally
        {
            await StopAsync(process);
        }
    }

    /// <summary>
    /// What the container ships: the AOT binary validating tokens against an OpenID Connect
    /// provider (discovery and JWKS fetched over HTTP, RS256 and ES256 signatures checked).
    /// </summary>
    [Fact]
    public async Task AotBinary_WithAuthentication_StreamsToAValidTokenAndRefusesOthers()
    {
        var binary = RequireBinary();
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await IdentityProvider.StartAsync(ct);
        using var process = Start(binary,
            $"--Auth:Authority={provider.Issuer}", $"--Auth:Audience={IdentityProvider.Audience}", "--Auth:RequireHttpsMetadata=false");
        try
        {
            var url = await ReadWebSocketUrlAsync(process, ct);

            var none = await AuthClient.HandshakeAsync(url, cancellationToken: ct);
            Assert.Equal(HttpStatusCode.Unauthorized, none.Status);
            var forged = provider.CreateToken(provider.Rsa, d => d.Audience = "someone-else");
            Assert.Equal(HttpStatusCode.Unauthorized, (await AuthClient.HandshakeAsync(url, AuthClient.Bearer(forged), ct)).Status);

            foreach (var key in new[] { provider.Rsa, provider.Ec })
            {
                await using var client = await WsClient.ConnectAsync(url, AuthClient.Bearer(provider.CreateToken(key)), cancellationToken: ct);
                AssertIsReading(await client.ReceiveAsync());
            }
        }
        finally
        {
            await StopAsync(process);
        }
    }

    private static string RequireBinary()
    {
        var binary = FindBinary();
        if (binary is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("ENERGYWS_TEST_AOT") == "1", $"ENERGYWS_TEST_AOT=1 but {PublishHint}");
            Assert.Skip(PublishHint);
        }

        return binary;
    }

    /// <summary>The binary in demo mode (its own broker and simulated meter), as a deployment runs it.</summary>
    private static Process Start(string binary, params string[] args)
    {
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(binary)!,
        };
        foreach (var arg in new[] { "--urls", "http://127.0.0.1:0", "--Demo:Enabled=true", "--Demo:Interval=00:00:00.100" }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        return Process.Start(start) ?? throw new InvalidOperationException("the AOT binary did not start");
    }

    private static async Task StopAsync(Process process)
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync(CancellationToken.None);
    }

    private static void AssertIsReading(string message)
    {
        using var json = JsonDocument.Parse(message);
        Assert.True(json.RootElement.GetProperty("power_w").GetDouble() > 0);
        Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty("timestamp").ValueKind);
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
                // Keep both pipes read, so a full pipe never blocks the binary's logging.
                _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
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
