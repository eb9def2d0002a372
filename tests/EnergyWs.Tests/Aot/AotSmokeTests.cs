using System.Net;
using System.Text.Json;
using EnergyWs.Tests.Auth;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Aot;

/// <summary>
/// Runs the Native AOT binary end to end: its own embedded broker and simulated meter, a real
/// WebSocket client. An AOT publish takes minutes, so the test uses a binary that already exists
/// (artifacts/aot/energy-ws, or ENERGYWS_AOT_BINARY) and is skipped without one, unless
/// ENERGYWS_TEST_AOT=1 demands it.
/// </summary>
[Trait("Category", "Slow")]
public sealed class AotSmokeTests
{
    private const string PublishHint =
        "no Native AOT binary: run `dotnet publish src/EnergyWs -c Release -r linux-x64 -p:PublishAot=true -o artifacts/aot` (or set ENERGYWS_AOT_BINARY)";

    [Fact]
    public async Task AotBinary_DemoMode_StreamsReadingsOverWebSocket()
    {
        var binary = RequireBinary();
        var ct = TestContext.Current.CancellationToken;
        await using var service = ServiceProcess.StartBinary(binary, "--Auth:Enabled=false");
        var url = await service.ReadWebSocketUrlAsync(ct);
        await using var client = await WsClient.ConnectAsync(url, cancellationToken: ct);
        AssertIsReading(await client.ReceiveAsync());
    }

    /// <summary>HTTPS served by the binary itself, from configuration: Kestrel's TLS survives trimming.</summary>
    [Fact]
    public async Task AotBinary_HttpsFromConfiguration_StreamsReadingsOverWss()
    {
        var binary = RequireBinary();
        var ct = TestContext.Current.CancellationToken;
        using var certificate = new TestCertificate();
        await using var service = ServiceProcess.StartBinary(binary, "--Auth:Enabled=false", "--urls", "https://127.0.0.1:0",
            $"--Kestrel:Certificates:Default:Path={certificate.Path}", $"--Kestrel:Certificates:Default:Password={TestCertificate.Password}");
        var url = await service.ReadWebSocketUrlAsync(ct);
        Assert.Equal("wss", url.Scheme);
        await using var client = await WsClient.ConnectAsync(url, options => options.RemoteCertificateValidationCallback = certificate.Validate, cancellationToken: ct);
        AssertIsReading(await client.ReceiveAsync());
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
        await using var service = ServiceProcess.StartBinary(binary,
            $"--Auth:Authority={provider.Issuer}", $"--Auth:Audience={IdentityProvider.Audience}", "--Auth:RequireHttpsMetadata=false");
        var url = await service.ReadWebSocketUrlAsync(ct);

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

    /// <summary>
    /// Opaque tokens introspected (Duende.IdentityModel's client, trimmed) and an in-band refresh
    /// (the authentication handler run again on an open connection) in the AOT binary.
    /// </summary>
    [Fact]
    public async Task AotBinary_OpaqueTokenIntrospectedAndRefreshedInBand()
    {
        var binary = RequireBinary();
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await IdentityProvider.StartAsync(ct);
        await using var service = ServiceProcess.StartBinary(binary,
            $"--Auth:Authority={provider.Issuer}", $"--Auth:Audience={IdentityProvider.Audience}", "--Auth:RequireHttpsMetadata=false",
            $"--Auth:Introspection:ClientId={IdentityProvider.IntrospectionClientId}", $"--Auth:Introspection:ClientSecret={IdentityProvider.IntrospectionSecret}");
        var url = await service.ReadWebSocketUrlAsync(ct);

        Assert.Equal(HttpStatusCode.Unauthorized, (await AuthClient.HandshakeAsync(url, AuthClient.Bearer(provider.UnknownOpaque()), ct)).Status);
        await using var client = await WsClient.ConnectAsync(url, AuthClient.Bearer(provider.IssueOpaque()), cancellationToken: ct);
        AssertIsReading(await client.ReceiveAsync());

        foreach (var token in new[] { provider.IssueOpaque(), provider.CreateToken(provider.Ec) })
        {
            await client.SendAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "refresh", ["token"] = token }));
            string reply;
            do
            {
                reply = await client.ReceiveAsync();
            }
            while (!reply.StartsWith("{\"type\":", StringComparison.Ordinal));

            Assert.StartsWith("{\"type\":\"refreshed\"", reply, StringComparison.Ordinal);
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

    private static void AssertIsReading(string message)
    {
        using var json = JsonDocument.Parse(message);
        Assert.True(json.RootElement.GetProperty("power_w").GetDouble() > 0);
        Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty("timestamp").ValueKind);
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
}
