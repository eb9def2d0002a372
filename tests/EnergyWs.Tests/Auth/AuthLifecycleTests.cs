using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using EnergyWs.Auth;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;

namespace EnergyWs.Tests.Auth;

/// <summary>Key rotation, an unreachable provider, token expiry on an open connection, and startup rules.</summary>
public sealed class AuthLifecycleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Rotation_TokenWithNewKid_IsAcceptedWithoutRestart()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        // No periodic refresh within the test: only the unknown kid can make the service fetch the new key.
        await using var app = await StartAsync(kafka, provider, logs, new() { ["Auth:KeyRefreshInterval"] = "01:00:00" });
        Assert.True((await Handshake(app, provider.CreateToken(provider.Rsa))).Upgraded);

        var next = SigningKey.CreateRsa("rsa-2");
        provider.Publish(provider.Rsa, next);

        await AuthClient.EventuallyAsync(() => Handshake(app, provider.CreateToken(next)), h => h.Upgraded, "a token signed with the new key is accepted", Ct);
        Assert.True((await Handshake(app, provider.CreateToken(provider.Rsa))).Upgraded);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task Rotation_OldKeyLeavesJwks_ItsTokensAreRefused()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new() { ["Auth:KeyRefreshInterval"] = "00:00:01" });
        var old = provider.Rsa;
        Assert.True((await Handshake(app, provider.CreateToken(old))).Upgraded);

        var next = SigningKey.CreateRsa("rsa-2");
        provider.Publish(next, provider.Ec);

        var refused = await AuthClient.EventuallyAsync(() => Handshake(app, provider.CreateToken(old)), h => !h.Upgraded, "a token signed with the withdrawn key is refused", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.True((await Handshake(app, provider.CreateToken(next))).Upgraded);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task ProviderDownAfterStart_CachedKeysKeepAcceptingValidTokens()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new() { ["Auth:KeyRefreshInterval"] = "00:00:01" });

        await provider.StopAsync();
        // An unknown kid makes the service go to the (now dead) provider for keys.
        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(app, provider.CreateToken(SigningKey.CreateRsa("unknown")))).Status);

        Assert.True((await Handshake(app, provider.CreateToken(provider.Rsa))).Upgraded);
        Assert.True((await Handshake(app, provider.CreateToken(provider.Ec))).Upgraded);
        using var http = new HttpClient { BaseAddress = app.ManagementAddress };
        Assert.Contains("\"auth\":{\"status\":\"Healthy\"", await http.GetStringAsync("/health/ready", Ct));
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task ProviderUnavailableAtStart_ServiceStartsRefusesTokensAndIsNotReadyUntilKeysArrive()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        provider.Available = false;
        var logs = new LogCapture();

        await using var app = await new EnergyWsApp(kafka.BootstrapServers, await kafka.CreateTopicAsync(), AuthSettings.For(provider), AuthSettings.Capture(logs)).StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = app.ManagementAddress };

        var refused = await Handshake(app, provider.CreateToken(provider.Rsa));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        var ready = await http.GetAsync("/health/ready", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("\"auth\":{\"status\":\"Unhealthy\"", await ready.Content.ReadAsStringAsync(Ct));
        await Eventually.TrueAsync(() => logs.Lines.Any(l => l.Contains("[4003]", StringComparison.Ordinal)), "the unreachable provider is logged", Ct);

        provider.Available = true;
        await AuthClient.EventuallyAsync(() => Handshake(app, provider.CreateToken(provider.Rsa)), h => h.Upgraded, "tokens are accepted once the keys load", Ct);
        await Eventually.TrueAsync(() => app.Get<SigningKeyState>().Loaded, "readiness sees the keys", Ct);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public async Task OpenConnection_TokenExpires_IsClosedWith4401()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await StartAsync(kafka, provider, logs, new() { ["Auth:ClockSkew"] = "00:00:00" });
        var token = provider.CreateToken(provider.Rsa, d => d.Expires = DateTime.UtcNow.AddSeconds(3));

        await using var client = await WsClient.ConnectAsync(app.WebSocketUri("/ws?token=" + token), cancellationToken: Ct);
        var (status, description) = await client.Closed.WaitAsync(Eventually.DefaultTimeout, Ct);

        Assert.Equal((WebSocketCloseStatus)4401, status);
        Assert.Equal("token expired", description);
        logs.AssertNoTokens(provider.Issued);
    }

    [Fact]
    public void Start_AuthEnabledWithoutAuthorityOutsideDevelopment_FailsNamingAuthAuthority()
    {
        // The registration as Program makes it; starting the whole app here would race the entry
        // point, which prints the failure and exits instead of throwing.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        builder.Configuration["Auth:Enabled"] = "true";
        builder.AddAuth();
        using var host = builder.Build();

        var ex = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<AuthOptions>>().Value);

        Assert.StartsWith("Auth:Authority ", Assert.Single(ex.Failures));
    }

    [Theory]
    [InlineData("Production", true, null, "Auth:Authority")]
    [InlineData("Development", true, null, null)]
    [InlineData("Production", false, null, null)]
    [InlineData("Production", true, "http://idp.example.com/application/o/energy-ws/", "Auth:Authority must use https")]
    [InlineData("Production", true, "https://idp.example.com/application/o/energy-ws/", null)]
    public void Validate_AuthorityRules(string environment, bool enabled, string? authority, string? failure)
    {
        var rules = new AuthOptionsRules(new HostingEnvironment { EnvironmentName = environment });

        var result = rules.Validate(null, new AuthOptions { Enabled = enabled, Authority = authority, Audience = "client" });

        if (failure is null)
        {
            Assert.True(result.Succeeded, result.FailureMessage);
        }
        else
        {
            Assert.StartsWith(failure, Assert.Single(result.Failures!));
        }
    }

    [Theory]
    [InlineData("?token=abc.def.ghi", "?token=[redacted]")]
    [InlineData("?device=a&access_token=abc&channel=0", "?device=a&access_token=[redacted]&channel=0")]
    [InlineData("?tok%65n=abc", "?tok%65n=[redacted]")]
    [InlineData("?device=token", null)]
    public void Redact_TokenParameters_AreReplaced(string query, string? expected) => Assert.Equal(expected, TokenQuery.Redact(query));

    private static async Task<EnergyWsApp> StartAsync(TestKafka kafka, IdentityProvider provider, LogCapture logs, Dictionary<string, string?> extra)
    {
        var app = await new EnergyWsApp(kafka.BootstrapServers, await kafka.CreateTopicAsync(), AuthSettings.For(provider, extra), AuthSettings.Capture(logs)).StartAsync(Ct);
        await Eventually.TrueAsync(() => app.Get<SigningKeyState>().Loaded, "the signing keys are loaded", Ct);
        return app;
    }

    private static Task<Handshake> Handshake(EnergyWsApp app, string token) => AuthClient.HandshakeAsync(app.WebSocketUri("/ws?token=" + token), cancellationToken: Ct);

}
