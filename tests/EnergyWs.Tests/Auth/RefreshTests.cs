using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EnergyWs.Auth;
using EnergyWs.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace EnergyWs.Tests.Auth;

/// <summary>One provider stand-in and a service whose tokens are checked without skew, with a 2-second expiry notice.</summary>
public sealed class RefreshFixture : IAsyncLifetime
{
    public static readonly TimeSpan Notice = TimeSpan.FromSeconds(2);

    private TestKafka? _kafka;

    internal TestKafka Kafka => _kafka!;

    internal string Topic { get; private set; } = "";

    internal IdentityProvider Provider { get; private set; } = null!;

    internal EnergyWsApp App { get; private set; } = null!;

    internal LogCapture Logs { get; } = new();

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _kafka = new TestKafka();
        Topic = await _kafka.CreateTopicAsync();
        Provider = await IdentityProvider.StartAsync(ct);
        App = await new EnergyWsApp(_kafka.BootstrapServers, Topic, AuthSettings.For(Provider, new Dictionary<string, string?>
        {
            ["Auth:ClockSkew"] = "00:00:00",
            ["Auth:RefreshNotice"] = "00:00:02",
        }), AuthSettings.Capture(Logs)).StartAsync(ct);
        await Eventually.TrueAsync(() => App.Get<SigningKeyState>().Loaded, "the signing keys are loaded", ct);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Provider.DisposeAsync();
        _kafka?.Dispose();
    }
}

/// <summary>In-band token refresh on an open /ws connection: token_expiring, refresh, refreshed, and the refusals.</summary>
public sealed class RefreshTests(RefreshFixture fixture) : IClassFixture<RefreshFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IdentityProvider Provider => fixture.Provider;

    private string Token(TimeSpan lifetime, string subject = "user-1", Action<SecurityTokenDescriptor>? customize = null) =>
        Provider.CreateToken(Provider.Rsa, d =>
        {
            d.Subject = new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim("sub", subject)]);
            d.Expires = DateTime.UtcNow + lifetime;
            customize?.Invoke(d);
        });

    private Task<WsClient> ConnectAsync(string token, string query = "?notices=1") =>
        WsClient.ConnectAsync(fixture.App.WebSocketUri("/ws" + query), AuthClient.Bearer(token), cancellationToken: Ct);

    [Fact]
    public async Task Refresh_FiveSecondTokensRefreshedInBand_StreamWithoutGapOrReconnectAcrossSeveralLifetimes()
    {
        var lifetime = TimeSpan.FromSeconds(5);
        var first = Token(lifetime);
        var firstExpiry = DateTimeOffset.UtcNow + lifetime;
        await using var client = await ConnectAsync(first);
        using var producer = fixture.Kafka.CreateProducer();
        var refreshed = new List<DateTimeOffset>();
        var notices = 0;
        var sent = 0;
        var next = 0;
        const int baseline = 0;

        // Three lifetimes: the first token's expiry and two refreshed ones pass while the stream runs.
        while (DateTimeOffset.UtcNow < firstExpiry + (2 * lifetime) || refreshed.Count < 3)
        {
            await SeedReadings.ProduceAsync(producer, fixture.Topic, [SeedReadings.Json(baseline + sent)]);
            sent++;
            // Everything up to the reading just produced, in order; control messages on the way are answered.
            while (next < sent)
            {
                var message = await client.ReceiveAsync();
                if (message.StartsWith("{\"type\":", StringComparison.Ordinal) && !message.StartsWith("{\"type\":\"data\"", StringComparison.Ordinal))
                {
                    using var json = JsonDocument.Parse(message);
                    var type = json.RootElement.GetProperty("type").GetString();
                    if (type == "token_expiring")
                    {
                        notices++;
                        await client.SendAsync(Refresh(Token(lifetime)));
                    }
                    else
                    {
                        Assert.Equal("refreshed", type);
                        refreshed.Add(json.RootElement.GetProperty("expires_at").GetDateTimeOffset());
                    }

                    continue;
                }

                Assert.Equal(SeedReadings.Json(baseline + next), message);
                next++;
            }
        }

        Assert.False(client.Closed.IsCompleted, "the connection stayed open");
        Assert.Equal(WebSocketState.Open, client.Socket.State);
        Assert.True(notices >= 3, $"one token_expiring per token, got {notices}");
        Assert.True(refreshed.SequenceEqual(refreshed.Order()) && refreshed[^1] > firstExpiry + lifetime, "each refresh moved the expiry on");
        fixture.Logs.AssertNoTokens(Provider.Issued);
    }

    public static TheoryData<string> RefusedRefreshes => ["another subject", "a client named like the user", "expired", "alg none", "wrong audience", "not a JWT", "no token", "ID token"];

    [Theory]
    [MemberData(nameof(RefusedRefreshes))]
    public async Task Refresh_BadToken_IsRefusedAndConnectionClosesAtItsOldExpiry(string @case)
    {
        var lifetime = TimeSpan.FromSeconds(3);
        var started = Stopwatch.StartNew();
        await using var client = await ConnectAsync(Token(lifetime), query: "");

        await client.SendAsync(@case == "no token" ? """{"type":"refresh"}""" : Refresh(BadToken(@case)));

        using (var reply = JsonDocument.Parse(await ControlAsync(client)))
        {
            Assert.Equal("error", reply.RootElement.GetProperty("type").GetString());
            Assert.Equal("invalid_token", reply.RootElement.GetProperty("code").GetString());
        }

        var (status, _) = await client.Closed.WaitAsync(Eventually.DefaultTimeout, Ct);
        Assert.Equal((WebSocketCloseStatus)4401, status);
        // exp has whole seconds: the token may end up to a second before the lifetime asked for.
        Assert.True(started.Elapsed < lifetime + TimeSpan.FromSeconds(2), $"closed at the old expiry, after {started.Elapsed}");
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("[6003]", StringComparison.Ordinal));
        fixture.Logs.AssertNoTokens(Provider.Issued);
    }

    [Fact]
    public async Task Refresh_LargeValidToken_IsAccepted()
    {
        await using var client = await ConnectAsync(Token(TimeSpan.FromMinutes(1)), query: "");
        // Providers that put many groups or roles in the token make 8 KB and more.
        var large = Token(TimeSpan.FromMinutes(10), customize: d => d.Claims = new Dictionary<string, object> { ["groups"] = Enumerable.Range(0, 300).Select(i => $"energy-group-{i:000}").ToArray() });
        Assert.True(large.Length > 8 * 1024, $"the token is {large.Length} characters");

        await client.SendAsync(Refresh(large));

        using var reply = JsonDocument.Parse(await ControlAsync(client));
        Assert.Equal("refreshed", reply.RootElement.GetProperty("type").GetString());
        fixture.Logs.AssertNoTokens(Provider.Issued);
    }

    [Fact]
    public async Task Notices_ClientThatDidNotAsk_GetsNoTokenExpiringAndIsClosedWith4401()
    {
        await using var client = await ConnectAsync(Token(TimeSpan.FromSeconds(3)), query: "");

        var (status, _) = await client.Closed.WaitAsync(Eventually.DefaultTimeout, Ct);

        Assert.Equal((WebSocketCloseStatus)4401, status);
        // The last reading of each meter may arrive on connect; nothing else may.
        while (client.TryReceive(out var message))
        {
            Assert.DoesNotContain("\"type\"", message!, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Refresh_Flood_CountsAgainstTheControlMessageRateLimit()
    {
        await using var client = await ConnectAsync(Token(TimeSpan.FromMinutes(1)), query: "");
        var refresh = Refresh(BadToken("not a JWT"));

        for (var i = 0; i < 200 && client.Socket.State == WebSocketState.Open; i++)
        {
            await client.SendAsync(refresh);
        }

        var (status, description) = await client.Closed.WaitAsync(Eventually.DefaultTimeout, Ct);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("rate limited", description);
    }

    [Fact]
    public async Task Refresh_OnEnergyCompatRoute_IsUnknownAsBefore()
    {
        await using var client = await WsClient.ConnectAsync(fixture.App.WebSocketUri("/ws/energy"), AuthClient.Bearer(Token(TimeSpan.FromMinutes(1))), cancellationToken: Ct);

        await client.SendAsync(Refresh(Token(TimeSpan.FromMinutes(5))));

        using var reply = JsonDocument.Parse(await ControlAsync(client));
        Assert.Equal("unknown_type", reply.RootElement.GetProperty("code").GetString());
    }

    /// <summary>The next control message, past the last-value readings (or /ws/energy data envelopes) a connection starts with.</summary>
    private static async Task<string> ControlAsync(WsClient client)
    {
        while (true)
        {
            var message = await client.ReceiveAsync();
            if (message.StartsWith("{\"type\":", StringComparison.Ordinal) && !message.StartsWith("{\"type\":\"data\"", StringComparison.Ordinal))
            {
                return message;
            }
        }
    }

    private static string Refresh(string token) => JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "refresh", ["token"] = token });

    private string BadToken(string @case)
    {
        var now = DateTime.UtcNow;
        return @case switch
        {
            "another subject" => Token(TimeSpan.FromMinutes(5), subject: "user-2"),
            "a client named like the user" => Token(TimeSpan.FromMinutes(5), customize: d => d.Subject = new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim("client_id", "user-1")])),
            "expired" => Provider.CreateToken(Provider.Rsa, d => (d.IssuedAt, d.NotBefore, d.Expires) = (now.AddMinutes(-10), now.AddMinutes(-10), now.AddMinutes(-1))),
            "alg none" => Provider.Remember(IdentityProvider.Base64Url($"{{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"{Provider.Rsa.Kid}\"}}") + "." + Token(TimeSpan.FromMinutes(5)).Split('.')[1] + "."),
            "wrong audience" => Token(TimeSpan.FromMinutes(5), customize: d => d.Audience = "another-client"),
            "not a JWT" => Provider.Remember("opaque-" + Convert.ToHexString(Encoding.UTF8.GetBytes(Guid.NewGuid().ToString()))),
            "ID token" => Provider.Mint(TokenShape.AuthentikId, c => c["sub"] = "user-1"),
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };
    }
}
