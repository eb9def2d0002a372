using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text.Json;
using EnergyWs.Auth;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.Hosting.Internal;

namespace EnergyWs.Tests.Auth;

/// <summary>Opaque tokens checked at the provider's RFC 7662 introspection endpoint: up, down, revoked, flooded.</summary>
public sealed class IntrospectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Opaque_ActiveToken_IsAcceptedAndIntrospectedOnceInactiveOrUnknownIs401()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs);
        var token = provider.IssueOpaque();

        Assert.True((await Handshake(app, token)).Upgraded);
        Assert.True((await Handshake(app, token)).Upgraded);
        Assert.Equal(1, provider.Introspections);

        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, provider.UnknownOpaque())).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, provider.IssueOpaque(audience: "another-client"))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, provider.IssueOpaque(lifetime: TimeSpan.FromMinutes(-1)))).Status);
        // JWTs are still verified locally.
        var before = provider.Introspections;
        Assert.True((await Handshake(app, provider.CreateToken(provider.Rsa))).Upgraded);
        Assert.Equal(before, provider.Introspections);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_TokenOnPathsWithoutThePolicy_IsNeverIntrospected()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs);
        using var http = new HttpClient { BaseAddress = app.BaseAddress };

        foreach (var path in new[] { "/nope", "/health/live", "/metrics" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new("Bearer", provider.UnknownOpaque());
            using var response = await http.SendAsync(request, Ct);
        }

        Assert.Equal(0, provider.Introspections);
        // The readings API still asks.
        using var readings = new HttpRequestMessage(HttpMethod.Get, "/api/readings");
        readings.Headers.Authorization = new("Bearer", provider.UnknownOpaque());
        using var refused = await http.SendAsync(readings, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(1, provider.Introspections);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_CacheFullOfRefusedTokens_ValidTokenIsStillKept()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new() { ["Auth:Introspection:CacheSize"] = "5" });
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, provider.UnknownOpaque())).Status);
        }

        var token = provider.IssueOpaque();
        var before = provider.Introspections;
        Assert.True((await Handshake(app, token)).Upgraded);
        Assert.True((await Handshake(app, token)).Upgraded);
        Assert.True((await Handshake(app, token)).Upgraded);

        Assert.Equal(before + 1, provider.Introspections);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_ActiveRefreshToken_Is401()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs);
        var token = provider.IssueOpaque();
        provider.TokenTypes[token] = "refresh_token";

        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, token)).Status);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_ActiveButExpiredFromAnotherIssuerOrNotYetValid_Is401()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs);
        var expired = provider.IssueOpaque();
        provider.Overrides[expired] = new() { ["exp"] = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds() };
        var foreign = provider.IssueOpaque();
        provider.Overrides[foreign] = new() { ["iss"] = "https://elsewhere.example.com/" };
        var early = provider.IssueOpaque();
        provider.Overrides[early] = new() { ["nbf"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() };

        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, expired)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, foreign)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, early)).Status);
        Assert.True((await Handshake(app, provider.IssueOpaque())).Upgraded);
        logs.AssertNoTokens([.. provider.Issued, IdentityProvider.IntrospectionSecret]);
    }

    [Fact]
    public async Task Opaque_ProviderDown_CachedTokenStillAcceptedNewTokenIs503AndReadinessNamesIt()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs);
        var known = provider.IssueOpaque();
        Assert.True((await Handshake(app, known)).Upgraded);
        var fresh = provider.IssueOpaque();

        provider.Available = false;

        Assert.True((await Handshake(app, known)).Upgraded);
        var refused = await Handshake(app, fresh);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        using var http = new HttpClient { BaseAddress = app.ManagementAddress }; // readiness details are on the management port
        using var ready = await http.GetAsync("/health/ready", Ct);
        var body = await ready.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"auth\":{\"status\":\"Degraded\"", body, StringComparison.Ordinal);
        Assert.Contains("introspection endpoint unavailable", body, StringComparison.Ordinal);

        provider.Available = true;
        Assert.True((await Handshake(app, fresh)).Upgraded);
        Assert.Contains("\"auth\":{\"status\":\"Healthy\"", await http.GetStringAsync("/health/ready", Ct), StringComparison.Ordinal);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_RevokedToken_IsRefusedOnceItsCacheEntryEnds()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new() { ["Auth:Introspection:MaxCacheDuration"] = "00:00:01" });
        var token = provider.IssueOpaque(lifetime: TimeSpan.FromHours(1));
        Assert.True((await Handshake(app, token)).Upgraded);

        provider.Revoke(token);

        var refused = await AuthClient.EventuallyAsync(() => Handshake(app, token), h => !h.Upgraded, "the revoked token is refused", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.True(provider.Introspections >= 2, "asked the provider again after the cache entry ended");
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_FloodOfMadeUpTokens_ProviderSeesAtMostMaxConcurrentRequests()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new()
        {
            ["Auth:Introspection:MaxConcurrent"] = "2",
            ["Auth:Introspection:Timeout"] = "00:00:30",
            // From one address: the per-client limit is what the next test is about.
            ["Auth:Introspection:PerClientPerMinute"] = "0",
        });
        // A slow provider: nothing is answered until the flood has arrived.
        var gate = provider.IntrospectionGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var flood = Enumerable.Range(0, 30).Select(_ => Handshake(app, provider.UnknownOpaque())).ToArray();
        await Eventually.TrueAsync(() => provider.IntrospectionsInFlight == 2, "two introspections are in flight", Ct);
        Assert.Equal(2, provider.Introspections);
        gate.SetResult();
        var results = await Task.WhenAll(flood);

        // Each made-up token was asked about, two at a time, never more.
        Assert.Equal(2, provider.MaxIntrospectionsInFlight);
        Assert.Equal(30, provider.Introspections);
        Assert.All(results, r => Assert.Equal(HttpStatusCode.Unauthorized, r.Status));
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_OneClientFloodsMadeUpTokens_IsCutOffAfterItsBurstWith429AnotherAddressIsStillIntrospected()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new()
        {
            ["Auth:Introspection:PerClientPerMinute"] = "1",
            ["Auth:Introspection:PerClientBurst"] = "3",
        });

        var results = new List<Handshake>();
        for (var i = 0; i < 12; i++)
        {
            results.Add(await Handshake(app, provider.UnknownOpaque()));
        }

        // The burst is asked about and refused; the rest is not asked, and not called bad.
        Assert.Equal(3, provider.Introspections);
        Assert.All(results.Take(3), r => Assert.Equal(HttpStatusCode.Unauthorized, r.Status));
        Assert.All(results.Skip(3), r => Assert.Equal(HttpStatusCode.TooManyRequests, r.Status));

        // Another client address still gets its (valid) token introspected.
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var other = new HttpClient(handler) { BaseAddress = app.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/readings");
        request.Headers.Authorization = new("Bearer", provider.IssueOpaque());
        using var response = await other.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(4, provider.Introspections);

        // The limited client is told when to come back.
        using var local = new HttpClient { BaseAddress = app.BaseAddress };
        using var again = new HttpRequestMessage(HttpMethod.Get, "/api/readings");
        again.Headers.Authorization = new("Bearer", provider.IssueOpaque());
        using var limited = await local.SendAsync(again, Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "a Retry-After is given");
        Assert.Equal(4, provider.Introspections);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_HandshakeAbortedDuringIntrospection_ReadinessStaysHealthyAndNoOutageIsLogged()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new() { ["Auth:Introspection:Timeout"] = "00:00:30" });
        var gate = provider.IntrospectionGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        using (var abort = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        using (var http = new HttpClient { BaseAddress = app.BaseAddress })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/readings");
            request.Headers.Authorization = new("Bearer", provider.IssueOpaque());
            var pending = http.SendAsync(request, abort.Token);
            await Eventually.TrueAsync(() => provider.IntrospectionsInFlight == 1, "the introspection is in flight", Ct);
            await abort.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
            await Eventually.TrueAsync(() => provider.IntrospectionsInFlight == 0, "the introspection is given up", Ct);
        }

        gate.SetResult();
        using var management = new HttpClient { BaseAddress = app.ManagementAddress };
        Assert.Contains("\"auth\":{\"status\":\"Healthy\"", await management.GetStringAsync("/health/ready", Ct), StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Lines, l => l.Contains("[4008]", StringComparison.Ordinal));
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_NoSlotWithinTimeout_Is503AndProviderIsNotAskedMore()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new()
        {
            ["Auth:Introspection:MaxConcurrent"] = "1",
            ["Auth:Introspection:Timeout"] = "00:00:01",
            ["Auth:Introspection:PerClientPerMinute"] = "0",
        });
        provider.IntrospectionGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Handshake(app, provider.UnknownOpaque())));

        Assert.All(results, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.Status));
        Assert.True(provider.Introspections < 10, $"the provider was asked {provider.Introspections} times for 10 tokens");
        // One warning for the outage, not one per refused token.
        Assert.Single(logs.Lines, l => l.Contains("[4008]", StringComparison.Ordinal));
        provider.IntrospectionGate = null;
        Assert.True((await Handshake(app, provider.IssueOpaque())).Upgraded);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_RefreshInBandWithAnotherOpaqueToken_IsIntrospectedAndMovesExpiry()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs);
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri("/ws"), AuthClient.Bearer(provider.IssueOpaque(lifetime: TimeSpan.FromMinutes(1))), cancellationToken: Ct);
        var next = provider.IssueOpaque(lifetime: TimeSpan.FromMinutes(10));

        await client.SendAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "refresh", ["token"] = next }));

        using var reply = JsonDocument.Parse(await client.ReceiveAsync());
        Assert.Equal("refreshed", reply.RootElement.GetProperty("type").GetString());
        Assert.True(reply.RootElement.GetProperty("expires_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(9));
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_RefreshesInBand_CountAgainstTheConnectionsAddressLimit()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new()
        {
            ["Auth:Introspection:PerClientPerMinute"] = "1",
            ["Auth:Introspection:PerClientBurst"] = "3",
        });
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri("/ws"), AuthClient.Bearer(provider.IssueOpaque(lifetime: TimeSpan.FromMinutes(5))), cancellationToken: Ct);

        // The upgrade took one of this address's three; two made-up tokens take the rest.
        for (var i = 0; i < 4; i++)
        {
            await client.SendAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "refresh", ["token"] = provider.UnknownOpaque() }));
            using var reply = JsonDocument.Parse(await client.ReceiveAsync());
            Assert.Equal("invalid_token", reply.RootElement.GetProperty("code").GetString());
        }

        Assert.Equal(3, provider.Introspections);
        Assert.Equal(WebSocketState.Open, client.Socket.State);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Opaque_ClientGoneDuringRefreshIntrospection_IsGivenUpWithoutAnOutage()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new() { ["Auth:Introspection:Timeout"] = "00:00:30" });
        var client = await WsClient.ConnectAsync(app.WebSocketUri("/ws"), AuthClient.Bearer(provider.IssueOpaque(lifetime: TimeSpan.FromMinutes(5))), cancellationToken: Ct);
        var gate = provider.IntrospectionGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        await client.SendAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "refresh", ["token"] = provider.IssueOpaque() }));
        await Eventually.TrueAsync(() => provider.IntrospectionsInFlight == 1, "the refresh is being introspected", Ct);
        client.Socket.Abort();
        await client.DisposeAsync();

        // Well before the 30-second timeout: the connection's end cancels the provider request.
        await Eventually.TrueAsync(() => provider.IntrospectionsInFlight == 0, "the introspection is given up", Ct);
        gate.SetResult();
        using var management = new HttpClient { BaseAddress = app.ManagementAddress };
        Assert.Contains("\"auth\":{\"status\":\"Healthy\"", await management.GetStringAsync("/health/ready", Ct), StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Lines, l => l.Contains("[4008]", StringComparison.Ordinal));
        logs.AssertNoTokens(provider.Issued);
    }

    [Theory]
    [InlineData("energy-ws", null, "Auth:Introspection:ClientId and Auth:Introspection:ClientSecret must be set together.")]
    [InlineData(null, "secret", "Auth:Introspection:ClientId and Auth:Introspection:ClientSecret must be set together.")]
    [InlineData("energy-ws", "secret", null)]
    public void Validate_IntrospectionCredentials_AreSetTogether(string? clientId, string? secret, string? failure)
    {
        var rules = new AuthOptionsRules(new HostingEnvironment { EnvironmentName = "Production" });

        var result = rules.Validate(null, new AuthOptions
        {
            Authority = "https://idp.example.com/application/o/energy-ws/",
            Audience = "client",
            Introspection = new IntrospectionOptions { ClientId = clientId, ClientSecret = secret },
        });

        Assert.Equal(failure, result.Failed ? Assert.Single(result.Failures!) : null);
    }

    private static async Task<EnergyWsApp> StartAsync(TestKafka kafka, IdentityProvider provider, LogCapture logs, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Auth:Introspection:ClientId"] = IdentityProvider.IntrospectionClientId,
            ["Auth:Introspection:ClientSecret"] = IdentityProvider.IntrospectionSecret,
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var app = await new EnergyWsApp(kafka.BootstrapServers, await kafka.CreateTopicAsync(), AuthSettings.For(provider, settings), AuthSettings.Capture(logs)).StartAsync(Ct);
        await Eventually.TrueAsync(() => app.Get<SigningKeyState>().Loaded, "the signing keys are loaded", Ct);
        return app;
    }

    private static Task<Handshake> Handshake(EnergyWsApp app, string token) =>
        AuthClient.HandshakeAsync(app.WebSocketUri("/ws"), AuthClient.Bearer(token), Ct);
}
