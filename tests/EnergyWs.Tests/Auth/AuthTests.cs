using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.IdentityModel.Tokens;

namespace EnergyWs.Tests.Auth;

/// <summary>Which tokens /ws accepts and refuses, against one provider stand-in and one service.</summary>
public sealed class AuthTests(AuthFixture fixture) : IClassFixture<AuthFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IdentityProvider Provider => fixture.Provider;

    private Uri Ws(string? token = null) => fixture.App.WebSocketUri(token is null ? "/ws" : "/ws?token=" + token);

    [Theory]
    [InlineData("rsa")]
    [InlineData("ec")]
    public async Task Upgrade_ValidTokenInQuery_IsAccepted(string keyType)
    {
        var token = Provider.CreateToken(keyType == "rsa" ? Provider.Rsa : Provider.Ec);

        var handshake = await AuthClient.HandshakeAsync(Ws(token), cancellationToken: Ct);

        Assert.True(handshake.Upgraded, handshake.ToString());
        fixture.AssertNoTokensLogged();
    }

    [Theory]
    [InlineData("rsa")]
    [InlineData("ec")]
    public async Task Upgrade_ValidTokenInAuthorizationHeader_IsAccepted(string keyType)
    {
        var token = Provider.CreateToken(keyType == "rsa" ? Provider.Rsa : Provider.Ec);

        var handshake = await AuthClient.HandshakeAsync(Ws(), AuthClient.Bearer(token), Ct);

        Assert.True(handshake.Upgraded, handshake.ToString());
        fixture.AssertNoTokensLogged();
    }

    [Theory]
    [InlineData("rsa")]
    [InlineData("ec")]
    public async Task Upgrade_ValidTokenAsSubProtocol_IsAcceptedAndAnswersBearer(string keyType)
    {
        var token = Provider.CreateToken(keyType == "rsa" ? Provider.Rsa : Provider.Ec);

        var handshake = await AuthClient.HandshakeAsync(Ws(), AuthClient.SubProtocol(token), Ct);

        Assert.True(handshake.Upgraded, handshake.ToString());
        Assert.Equal("bearer", handshake.SubProtocol);
        fixture.AssertNoTokensLogged();
    }

    [Fact]
    public async Task Upgrade_ValidToken_ReceivesReadings()
    {
        await using var client = await WsClient.ConnectAsync(Ws(Provider.CreateToken(Provider.Rsa)), cancellationToken: Ct);
        await Eventually.TrueAsync(() => fixture.App.Get<Broadcaster>().Count > 0, "the client is registered", Ct);

        using (var producer = fixture.Kafka.CreateProducer())
        {
            await SeedReadings.ProduceAsync(producer, fixture.Topic, [SeedReadings.Json(7)]);
        }

        Assert.Equal(SeedReadings.Json(7), await client.ReceiveAsync());
    }

    public static TheoryData<string> RefusedCases =>
    [
        "missing", "expired beyond skew", "nbf in the future", "wrong issuer", "wrong audience", "no exp", "alg none",
        "HS256 with the RSA public key as secret", "unknown kid", "known kid, other key", "payload altered", "not a JWT",
        "two segments", "17 KB token in the header", "valid token of another issuer",
    ];

    [Theory]
    [MemberData(nameof(RefusedCases))]
    public async Task Upgrade_BadToken_Is401WithBearerChallengeAndNoUpgrade(string @case)
    {
        var (token, inHeader) = BadToken(@case);

        var handshake = await AuthClient.HandshakeAsync(inHeader ? Ws() : Ws(token), inHeader ? AuthClient.Bearer(token!) : null, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, handshake.Status);
        Assert.NotNull(handshake.WwwAuthenticate);
        Assert.StartsWith("Bearer", handshake.WwwAuthenticate);
        if (token is not null)
        {
            // RFC 6750 §3.1: a request without credentials gets no error code; a bad token does.
            Assert.Contains("error=\"invalid_token\"", handshake.WwwAuthenticate);
        }

        fixture.AssertNoTokensLogged();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Upgrade_200KbToken_IsRefusedBeforeUpgradeByRequestLimits(bool inHeader)
    {
        var token = Provider.Remember(Provider.CreateToken(Provider.Rsa, d => d.Claims = new Dictionary<string, object> { ["pad"] = new string('x', 200 * 1024) }));

        var handshake = await AuthClient.HandshakeAsync(inHeader ? Ws() : Ws(token), inHeader ? AuthClient.Bearer(token) : null, Ct);

        // Kestrel's request limits answer before any authentication: 414 for a request line over
        // 8 KB, 431 for headers over 32 KB. Tokens between 16 KB and those limits get our 401.
        Assert.Equal(inHeader ? HttpStatusCode.RequestHeaderFieldsTooLarge : HttpStatusCode.RequestUriTooLong, handshake.Status);
        fixture.AssertNoTokensLogged();
    }

    [Fact]
    public async Task Upgrade_DisallowedOrigin_Is403EvenWithValidToken()
    {
        var token = Provider.CreateToken(Provider.Rsa);
        using var attempts = Attempts();

        var refused = await AuthClient.HandshakeAsync(Ws(token), o => o.SetRequestHeader("Origin", "https://evil.example.net"), Ct);
        var allowed = await AuthClient.HandshakeAsync(Ws(token), o => o.SetRequestHeader("Origin", AuthFixture.AllowedOrigin), Ct);

        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.True(allowed.Upgraded, allowed.ToString());
        Assert.Contains(attempts.GetMeasurementSnapshot(), m => m.Tags["result"] as string == "rejected_origin");
    }

    [Fact]
    public async Task Upgrade_Refused_IsCountedAsRejectedAuth()
    {
        using var attempts = Attempts();

        var handshake = await AuthClient.HandshakeAsync(Ws(), cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, handshake.Status);
        Assert.Contains(attempts.GetMeasurementSnapshot(), m => m.Tags["result"] as string == "rejected_auth");
    }

    [Fact]
    public async Task Logs_AtTraceLevel_HoldNoTokenButRedactedRequestLines()
    {
        var valid = Provider.CreateToken(Provider.Rsa);
        var expired = Provider.CreateToken(Provider.Rsa, d => (d.IssuedAt, d.NotBefore, d.Expires) = (DateTime.UtcNow.AddHours(-2), DateTime.UtcNow.AddHours(-2), DateTime.UtcNow.AddHours(-1)));
        var forged = Provider.CreateToken(SigningKey.CreateRsa(Provider.Rsa.Kid));

        Assert.True((await AuthClient.HandshakeAsync(fixture.App.WebSocketUri("/ws?device=a&token=" + valid), cancellationToken: Ct)).Upgraded);
        Assert.True((await AuthClient.HandshakeAsync(fixture.App.WebSocketUri("/ws?access_token=" + valid), cancellationToken: Ct)).Upgraded);
        Assert.True((await AuthClient.HandshakeAsync(Ws(), AuthClient.SubProtocol(valid), Ct)).Upgraded);
        Assert.False((await AuthClient.HandshakeAsync(Ws(expired), cancellationToken: Ct)).Upgraded);
        Assert.False((await AuthClient.HandshakeAsync(Ws(), AuthClient.Bearer(forged), Ct)).Upgraded);
        // Tokens sent in-band, accepted and refused, are not logged either.
        await using (var client = await WsClient.ConnectAsync(Ws(), AuthClient.Bearer(valid), cancellationToken: Ct))
        {
            foreach (var (token, reply) in new[] { (Provider.CreateToken(Provider.Rsa), "refreshed"), (forged, "error"), (expired, "error") })
            {
                await client.SendAsync(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "refresh", ["token"] = token }));
                string message;
                do
                {
                    message = await client.ReceiveAsync();
                }
                while (!message.StartsWith("{\"type\":", StringComparison.Ordinal));

                Assert.StartsWith($"{{\"type\":\"{reply}\"", message, StringComparison.Ordinal);
            }
        }

        var lines = fixture.Logs.Lines.ToList();
        // The capture sees the request lines and the handler's failures, so the check below is not vacuous.
        Assert.Contains(lines, l => l.Contains("Request starting", StringComparison.Ordinal) && l.Contains("?device=a&token=[redacted]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("access_token=[redacted]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Failed to validate the token", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("[6003]", StringComparison.Ordinal));
        fixture.AssertNoTokensLogged();
    }

    /// <summary>energyws_connections_total of this app's meter only (other apps run in the same process).</summary>
    private MetricCollector<long> Attempts() =>
        new(fixture.App.Get<IMeterFactory>(), StreamingMetrics.MeterName, "energyws_connections_total");

    private (string? Token, bool InHeader) BadToken(string @case)
    {
        var now = DateTime.UtcNow;
        var rsa = Provider.Rsa;
        return @case switch
        {
            "missing" => (null, false),
            "expired beyond skew" => (Provider.CreateToken(rsa, d => (d.IssuedAt, d.NotBefore, d.Expires) = (now.AddMinutes(-10), now.AddMinutes(-10), now.AddMinutes(-2))), false),
            "nbf in the future" => (Provider.CreateToken(rsa, d => (d.NotBefore, d.Expires) = (now.AddMinutes(5), now.AddMinutes(10))), false),
            "wrong issuer" => (Provider.CreateToken(rsa, d => d.Issuer = "https://authentik.example.com/application/o/energy-ws/"), false),
            "wrong audience" => (Provider.CreateToken(rsa, d => d.Audience = "another-client"), false),
            "no exp" => (Provider.CreateToken(rsa, d => (d.IssuedAt, d.NotBefore, d.Expires) = (null, null, null), setDefaultTimes: false), false),
            "alg none" => (Provider.Remember(IdentityProvider.Base64Url($"{{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"{rsa.Kid}\"}}") + "." + Payload(rsa) + "."), false),
            "HS256 with the RSA public key as secret" => (Provider.CreateToken(rsa, d => d.SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(Encoding.UTF8.GetBytes(rsa.Rsa!.ExportSubjectPublicKeyInfoPem())) { KeyId = rsa.Kid }, SecurityAlgorithms.HmacSha256)), false),
            "unknown kid" => (Provider.CreateToken(SigningKey.CreateRsa("never-published")), false),
            "known kid, other key" => (Provider.CreateToken(SigningKey.CreateRsa(rsa.Kid)), false),
            "payload altered" => (Provider.Remember(Altered(Provider.CreateToken(rsa))), false),
            "not a JWT" => (Provider.Remember("this-is-not-a-jwt-at-all-but-long-enough"), false),
            "two segments" => (Provider.Remember(string.Join('.', Provider.CreateToken(rsa).Split('.').Take(2))), false),
            "17 KB token in the header" => (Provider.CreateToken(rsa, d => d.Claims = new Dictionary<string, object> { ["pad"] = new string('x', 17 * 1024) }), true),
            "valid token of another issuer" => (fixture.OtherProvider.CreateToken(fixture.OtherProvider.Rsa), false),
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };
    }

    private string Payload(SigningKey key) => Provider.CreateToken(key).Split('.')[1];

    /// <summary>The same signature over a payload whose subject was changed after signing.</summary>
    private static string Altered(string token)
    {
        var parts = token.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("user-1", "admin1", StringComparison.Ordinal);
        return $"{parts[0]}.{IdentityProvider.Base64Url(payload)}.{parts[2]}";
    }
}
