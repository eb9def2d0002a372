using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using EnergyWs.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace EnergyWs.Tests.Auth;

/// <summary>
/// Minutes of 5-second tokens refreshed in-band on one connection while readings stream: the
/// dashboard's case, an hour's worth of token lifetimes compressed. Real time throughout, because
/// the token's exp is checked by the JWT handler against the wall clock.
/// </summary>
[Trait("Category", "Slow")]
public sealed class RefreshSoakTests(RefreshFixture fixture, ITestOutputHelper output) : IClassFixture<RefreshFixture>
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Soak = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ProduceEvery = TimeSpan.FromMilliseconds(100);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Refresh_FiveSecondTokensForMinutes_EveryReadingArrivesInOrderOnOneConnection()
    {
        var provider = fixture.Provider;
        await using var client = await WsClient.ConnectAsync(fixture.App.WebSocketUri("/ws?notices=1"), AuthClient.Bearer(Token()), cancellationToken: Ct);
        using var producer = fixture.Kafka.CreateProducer();
        var soak = Stopwatch.StartNew();
        var refreshed = new List<DateTimeOffset>();
        var notices = 0;
        var received = 0;
        var slowest = TimeSpan.Zero;

        // The client side: answers each token_expiring with a new token and checks every reading in turn.
        async Task<int> ReceiveAsync(int expected)
        {
            var last = Stopwatch.StartNew();
            while (received < expected)
            {
                var message = await client.ReceiveAsync();
                if (message.StartsWith("{\"type\":", StringComparison.Ordinal))
                {
                    using var json = JsonDocument.Parse(message);
                    switch (json.RootElement.GetProperty("type").GetString())
                    {
                        case "token_expiring":
                            notices++;
                            await client.SendAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "refresh", ["token"] = Token() }));
                            break;
                        case var type:
                            Assert.Equal("refreshed", type);
                            refreshed.Add(json.RootElement.GetProperty("expires_at").GetDateTimeOffset());
                            break;
                    }

                    continue;
                }

                Assert.Equal(SeedReadings.Json(received), message);
                received++;
                slowest = TimeSpan.FromTicks(Math.Max(slowest.Ticks, last.Elapsed.Ticks));
                last.Restart();
            }

            return received;
        }

        var sent = 0;
        using (var pace = new PeriodicTimer(ProduceEvery))
        {
            var receiving = Task.CompletedTask;
            while (soak.Elapsed < Soak)
            {
                await SeedReadings.ProduceAsync(producer, fixture.Topic, [SeedReadings.Json(sent)]);
                sent++;
                await receiving;
                receiving = ReceiveAsync(sent);
                await pace.WaitForNextTickAsync(Ct);
            }

            await receiving;
        }

        output.WriteLine($"{soak.Elapsed.TotalSeconds:F0} s, {sent} readings, {notices} notices, {refreshed.Count} refreshes, slowest reading {slowest.TotalMilliseconds:F0} ms after its produce was acknowledged");
        Assert.Equal(sent, received);
        Assert.False(client.Closed.IsCompleted, "the connection stayed open");
        Assert.Equal(WebSocketState.Open, client.Socket.State);
        // At least one refresh per token lifetime, each answering its token's notice.
        var lifetimes = (int)(Soak / Lifetime);
        Assert.True(refreshed.Count >= lifetimes && notices >= refreshed.Count, $"a refresh every few seconds: {refreshed.Count} refreshes, {notices} notices in {lifetimes} lifetimes");
        Assert.Equal(refreshed.Order(), refreshed);
        fixture.Logs.AssertNoTokens(provider.Issued);
    }

    private string Token() =>
        fixture.Provider.CreateToken(fixture.Provider.Rsa, d =>
        {
            d.Subject = new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim("sub", "user-1")]);
            d.Expires = DateTime.UtcNow + Lifetime;
        });
}
