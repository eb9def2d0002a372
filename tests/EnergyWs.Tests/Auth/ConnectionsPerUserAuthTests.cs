using System.Net;
using System.Security.Claims;
using EnergyWs.Auth;
using EnergyWs.Tests.Infrastructure;
using EnergyWs.Tests.Operations;

namespace EnergyWs.Tests.Auth;

/// <summary>Streaming:MaxConnectionsPerUser with authentication: per token subject, else client id.</summary>
public sealed class ConnectionsPerUserAuthTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PerUserLimit_SameSubjectOneMore_Gets429WhileAnotherSubjectFromTheSameIpConnects()
    {
        using var kafka = new TestKafka();
        await using var provider = await IdentityProvider.StartAsync(Ct);
        var logs = new LogCapture();
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, await kafka.CreateTopicAsync(), AuthSettings.For(provider, new Dictionary<string, string?>
        {
            ["Streaming:MaxConnectionsPerUser"] = "2",
        }), AuthSettings.Capture(logs)).StartAsync(Ct);
        await Eventually.TrueAsync(() => app.Get<SigningKeyState>().Loaded, "the signing keys are loaded", Ct);
        string Token(params Claim[] claims) => provider.CreateToken(provider.Rsa, d => d.Subject = new ClaimsIdentity(claims));

        await using var a = await WsClient.ConnectAsync(app.WebSocketUri(), AuthClient.Bearer(Token(new Claim("sub", "alice"))), cancellationToken: Ct);
        // A second token of the same subject counts against the same allowance.
        await using var b = await WsClient.ConnectAsync(app.WebSocketUri(), AuthClient.Bearer(Token(new Claim("sub", "alice"))), cancellationToken: Ct);
        var (status, retryAfter) = await ConnectionsPerUserTests.RefusedAsync(app.WebSocketUri(), AuthClient.Bearer(Token(new Claim("sub", "alice"))));
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.NotNull(retryAfter);

        // Same IP, other principals: their own allowances.
        await using var c = await WsClient.ConnectAsync(app.WebSocketUri(), AuthClient.Bearer(Token(new Claim("sub", "bob"))), cancellationToken: Ct);
        await using var d = await WsClient.ConnectAsync(app.WebSocketUri(), AuthClient.Bearer(Token(new Claim("client_id", "meter-gateway"))), cancellationToken: Ct);
        await using var e = await WsClient.ConnectAsync(app.WebSocketUri(), AuthClient.Bearer(Token(new Claim("client_id", "meter-gateway"))), cancellationToken: Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests,
            (await ConnectionsPerUserTests.RefusedAsync(app.WebSocketUri(), AuthClient.Bearer(Token(new Claim("client_id", "meter-gateway"))))).Status);
        logs.AssertNoTokens(provider.Issued);
    }
}
