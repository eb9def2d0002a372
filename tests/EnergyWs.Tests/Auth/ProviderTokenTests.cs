using System.Net;
using EnergyWs.Auth;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Auth;

/// <summary>
/// One provider stand-in and four services: default checks with two audiences (list form), RFC 9068
/// access tokens required, a required scope, and audience checking off.
/// </summary>
public sealed class ProviderTokenFixture : IAsyncLifetime
{
    private TestKafka? _kafka;

    internal IdentityProvider Provider { get; private set; } = null!;

    internal EnergyWsApp Default { get; private set; } = null!;

    internal EnergyWsApp Rfc9068 { get; private set; } = null!;

    internal EnergyWsApp Scoped { get; private set; } = null!;

    internal EnergyWsApp AnyAudience { get; private set; } = null!;

    internal LogCapture Logs { get; } = new();

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _kafka = new TestKafka();
        Provider = await IdentityProvider.StartAsync(ct);
        var audiences = new Dictionary<string, string?>
        {
            ["Auth:Audience"] = null,
            ["Auth:Audience:0"] = Shapes.Client,
            ["Auth:Audience:1"] = Shapes.KeycloakAudience,
        };
        var apps = await Task.WhenAll(
            StartAsync(audiences, ct),
            StartAsync(new(audiences) { ["Auth:RequireAccessTokenType"] = "true" }, ct),
            StartAsync(new(audiences) { ["Auth:RequiredScopes:0"] = "energy:read" }, ct),
            StartAsync(new() { ["Auth:ValidateAudience"] = "false", ["Auth:Audience"] = null }, ct));
        (Default, Rfc9068, Scoped, AnyAudience) = (apps[0], apps[1], apps[2], apps[3]);
    }

    private async Task<EnergyWsApp> StartAsync(Dictionary<string, string?> settings, CancellationToken ct)
    {
        var app = await new EnergyWsApp(_kafka!.BootstrapServers, await _kafka.CreateTopicAsync(), AuthSettings.For(Provider, settings), AuthSettings.Capture(Logs)).StartAsync(ct);
        await Eventually.TrueAsync(() => app.Get<SigningKeyState>().Loaded, "the signing keys are loaded", ct);
        return app;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in new[] { Default, Rfc9068, Scoped, AnyAudience })
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }
        }

        await Provider.DisposeAsync();
        _kafka?.Dispose();
    }
}

/// <summary>Tokens as Authentik, Keycloak and Authelia issue them: which /ws accepts and which it refuses.</summary>
public sealed class ProviderTokenTests(ProviderTokenFixture fixture) : IClassFixture<ProviderTokenFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IdentityProvider Provider => fixture.Provider;

    [Theory]
    [InlineData(TokenShape.AuthentikAccess, true)]
    [InlineData(TokenShape.AuthentikMachine, true)]
    [InlineData(TokenShape.AuthentikId, false)]
    [InlineData(TokenShape.KeycloakAccess, true)]
    [InlineData(TokenShape.KeycloakMachine, true)]
    [InlineData(TokenShape.KeycloakId, false)]
    [InlineData(TokenShape.AutheliaAccess, true)]
    [InlineData(TokenShape.AutheliaMachine, true)]
    [InlineData(TokenShape.AutheliaId, false)]
    public async Task Upgrade_ProviderToken_AccessTokensAcceptedIdTokensRefused(TokenShape shape, bool accepted)
    {
        var handshake = await Handshake(fixture.Default, Provider.Mint(shape));

        Assert.Equal(accepted ? HttpStatusCode.SwitchingProtocols : HttpStatusCode.Unauthorized, handshake.Status);
        AssertNoTokensLogged();
    }

    [Theory]
    [InlineData(TokenShape.AutheliaAccess, true)]
    [InlineData(TokenShape.AutheliaMachine, true)]
    [InlineData(TokenShape.AutheliaId, false)]
    [InlineData(TokenShape.AuthentikAccess, false)]
    [InlineData(TokenShape.KeycloakAccess, false)]
    public async Task Upgrade_AccessTokenTypeRequired_OnlyRfc9068TokensAccepted(TokenShape shape, bool accepted)
    {
        var handshake = await Handshake(fixture.Rfc9068, Provider.Mint(shape));

        Assert.Equal(accepted ? HttpStatusCode.SwitchingProtocols : HttpStatusCode.Unauthorized, handshake.Status);
        AssertNoTokensLogged();
    }

    [Theory]
    [InlineData("jti")]
    [InlineData("client_id")]
    [InlineData("sub")]
    public async Task Upgrade_AccessTokenTypeRequired_AtJwtWithoutRequiredClaimIsRefused(string missing)
    {
        var token = Provider.Mint(TokenShape.AutheliaAccess, c => c[missing] = null);

        var handshake = await Handshake(fixture.Rfc9068, token);

        Assert.Equal(HttpStatusCode.Unauthorized, handshake.Status);
        Assert.Contains(fixture.Logs.Lines, l => l.Contains($"(no {missing} claim)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Upgrade_KeycloakIdTokenWithoutAtHash_IsRefusedByItsTypClaim()
    {
        var token = Provider.Mint(TokenShape.KeycloakId, c => c["at_hash"] = null);

        var handshake = await Handshake(fixture.Default, token);

        Assert.Equal(HttpStatusCode.Unauthorized, handshake.Status);
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("typ claim ID", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Upgrade_RefreshTypClaimLogoutTokenOrLogoutHeaderTyp_AreRefused()
    {
        var refresh = Provider.Mint(TokenShape.KeycloakAccess, c => c["typ"] = "Refresh");
        var logout = Provider.Mint(TokenShape.KeycloakAccess, c => (c["typ"], c["events"]) = (null, new Dictionary<string, object> { ["http://schemas.openid.net/event/backchannel-logout"] = new Dictionary<string, object>() }));
        var logoutTyp = Provider.CreateToken(Provider.Rsa, d => d.TokenType = "logout+jwt");

        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(fixture.Default, refresh)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(fixture.Default, logout)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Handshake(fixture.Default, logoutTyp)).Status);
        // The same token without the logout typ is accepted.
        Assert.True((await Handshake(fixture.Default, Provider.CreateToken(Provider.Rsa))).Upgraded);
    }

    [Fact]
    public async Task Upgrade_TokenNamingNoPrincipal_IsRefused()
    {
        var token = Provider.Mint(TokenShape.KeycloakMachine, c => (c["client_id"], c["azp"]) = (null, null));

        var handshake = await Handshake(fixture.Default, token);

        Assert.Equal(HttpStatusCode.Unauthorized, handshake.Status);
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("no principal", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("scope", "openid energy:read", true)]
    [InlineData("scp", "energy:read other", true)]
    [InlineData("scp[]", "energy:read", true)]
    [InlineData("scope", "openid energy:readwrite", false)]
    [InlineData("scp[]", "openid", false)]
    [InlineData("none", "", false)]
    public async Task Upgrade_RequiredScope_ReadFromScopeOrScpInEitherForm(string claim, string scopes, bool accepted)
    {
        var token = Provider.Mint(TokenShape.AutheliaAccess, c =>
        {
            c["scope"] = null;
            if (claim == "scp[]")
            {
                c["scp"] = scopes.Split(' ');
            }
            else if (claim != "none")
            {
                c[claim] = scopes;
            }
        });

        var handshake = await Handshake(fixture.Scoped, token);

        Assert.Equal(accepted ? HttpStatusCode.SwitchingProtocols : HttpStatusCode.Unauthorized, handshake.Status);
    }

    [Theory]
    [InlineData(Shapes.Client, true)]
    [InlineData(Shapes.KeycloakAudience, true)]
    [InlineData("another-client", false)]
    public async Task Upgrade_SeveralAudiencesConfigured_AnyOfThemIsAccepted(string audience, bool accepted)
    {
        var token = Provider.Mint(TokenShape.AutheliaAccess, c => c["aud"] = new[] { audience });

        var handshake = await Handshake(fixture.Default, token);

        Assert.Equal(accepted ? HttpStatusCode.SwitchingProtocols : HttpStatusCode.Unauthorized, handshake.Status);
    }

    [Fact]
    public async Task Upgrade_AudienceCheckOff_OtherAudienceAcceptedAndWarnedAtStart()
    {
        var token = Provider.Mint(TokenShape.AutheliaAccess, c => c["aud"] = "another-client");

        var handshake = await Handshake(fixture.AnyAudience, token);

        Assert.True(handshake.Upgraded, handshake.ToString());
        Assert.Contains(fixture.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("[4007]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_PlainHttpAuthorityOnAnotherHost_IsWarnedLoopbackIsNot()
    {
        using var kafka = new TestKafka();
        var logs = new LogCapture();
        await using (var remote = await new EnergyWsApp(kafka.BootstrapServers, await kafka.CreateTopicAsync(), AuthSettings.For(Provider, new Dictionary<string, string?>
        {
            ["Auth:Authority"] = "http://auth.example.invalid/application/o/energy-ws/",
        }), AuthSettings.Capture(logs)).StartAsync(TestContext.Current.CancellationToken))
        {
            Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("[4009]", StringComparison.Ordinal) && l.Contains("http://auth.example.invalid", StringComparison.Ordinal));
        }

        // The fixture's services use the stand-in on 127.0.0.1 over http: nothing to warn about.
        Assert.DoesNotContain(fixture.Logs.Lines, l => l.Contains("[4009]", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("energy-ws-client", new[] { "energy-ws-client" })]
    [InlineData(" energy-ws-client , energy-ws ", new[] { "energy-ws-client", "energy-ws" })]
    public void Audiences_SingleOrCommaSeparated_AreListed(string configured, string[] expected) =>
        Assert.Equal(expected, new AuthOptions { Audience = configured }.Audiences);

    private void AssertNoTokensLogged() => fixture.Logs.AssertNoTokens(Provider.Issued);

    private static Task<Handshake> Handshake(EnergyWsApp app, string token) =>
        AuthClient.HandshakeAsync(app.WebSocketUri("/ws"), AuthClient.Bearer(token), Ct);
}
