using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EnergyWs.Auth;
using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;
using EnergyWs.Tests.Readings;

namespace EnergyWs.Tests.Auth;

/// <summary>
/// A provider stand-in and a service with three streams: energy open to every accepted token,
/// heatpump behind scope heatpump:read, plugs behind plugs:read.
/// </summary>
public sealed class StreamScopeFixture : IAsyncLifetime
{
    private TestKafka? _kafka;

    internal IdentityProvider Provider { get; private set; } = null!;

    internal TestKafka Kafka => _kafka!;

    internal string HeatPumpTopic { get; private set; } = "";

    internal EnergyWsApp App { get; private set; } = null!;

    internal LogCapture Logs { get; } = new();

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _kafka = new TestKafka();
        Provider = await IdentityProvider.StartAsync(ct);
        var energy = await _kafka.CreateTopicAsync();
        HeatPumpTopic = await _kafka.CreateTopicAsync();
        var plugs = await _kafka.CreateTopicAsync();
        App = await new EnergyWsApp(_kafka.BootstrapServers, energy, AuthSettings.For(Provider, new Dictionary<string, string?>
        {
            ["Streams:heatpump:Topic"] = HeatPumpTopic,
            ["Streams:heatpump:Device"] = "device_id",
            ["Streams:heatpump:Scope"] = "heatpump:read",
            ["Streams:plugs:Topic"] = plugs,
            ["Streams:plugs:Device"] = "plug_id",
            ["Streams:plugs:Scope"] = "plugs:read",
        }), AuthSettings.Capture(Logs)).StartAsync(ct);
        await Eventually.TrueAsync(() => App.Get<SigningKeyState>().Loaded, "the signing keys are loaded", ct);
        var state = App.Get<ConsumerState>();
        await Eventually.TrueAsync(() => state.Partitions.Any(p => p.Key.Topic == HeatPumpTopic), "the heat pump's topic is assigned", ct);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Provider.DisposeAsync();
        _kafka?.Dispose();
    }
}

/// <summary>A stream with a Scope is readable only with a token carrying it, at the upgrade, in a subscribe and over REST.</summary>
public sealed class StreamScopeTests(StreamScopeFixture fixture) : IClassFixture<StreamScopeFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Token(params string[] scopes) => fixture.Provider.Mint(TokenShape.AutheliaAccess, c =>
    {
        c["scope"] = null;
        c["scp"] = scopes;
    });

    [Theory]
    [InlineData("?stream=heatpump", new[] { "openid" }, "heatpump:read")]
    [InlineData("?stream=heatpump,plugs", new[] { "heatpump:read" }, "plugs:read")]
    [InlineData("?stream=energy&stream=plugs&stream=heatpump", new string[0], "heatpump:read plugs:read")]
    public async Task Upgrade_StreamTheTokenMayNotRead_Is403NamingTheMissingScope(string query, string[] scopes, string missing)
    {
        var handshake = await AuthClient.HandshakeAsync(fixture.App.WebSocketUri("/ws" + query), AuthClient.Bearer(Token(scopes)), Ct);

        Assert.Equal(HttpStatusCode.Forbidden, handshake.Status);
        Assert.Equal($"Bearer error=\"insufficient_scope\", scope=\"{missing}\"", handshake.WwwAuthenticate);
        fixture.Logs.AssertNoTokens(fixture.Provider.Issued);
    }

    [Theory]
    [InlineData("", new string[0])]
    [InlineData("?stream=heatpump", new[] { "heatpump:read" })]
    [InlineData("?stream=energy,heatpump,plugs", new[] { "openid", "plugs:read", "heatpump:read" })]
    public async Task Upgrade_EveryStreamReadable_IsAccepted(string query, string[] scopes)
    {
        var handshake = await AuthClient.HandshakeAsync(fixture.App.WebSocketUri("/ws" + query), AuthClient.Bearer(Token(scopes)), Ct);

        Assert.Equal(HttpStatusCode.SwitchingProtocols, handshake.Status);
    }

    [Fact]
    public async Task Upgrade_ScopeAsSpaceSeparatedString_OpensTheStreamToo()
    {
        var token = fixture.Provider.Mint(TokenShape.AutheliaAccess, c => c["scope"] = "openid heatpump:read");

        var handshake = await AuthClient.HandshakeAsync(fixture.App.WebSocketUri("/ws?stream=heatpump"), AuthClient.Bearer(token), Ct);

        Assert.Equal(HttpStatusCode.SwitchingProtocols, handshake.Status);
    }

    [Fact]
    public async Task Subscribe_ForbiddenOrUnknownStream_IsRefusedAndChangesNothing_AReadableOneIsAdded()
    {
        await using var client = await WsClient.ConnectAsync(fixture.App.WebSocketUri("/ws"), AuthClient.Bearer(Token("heatpump:read")), cancellationToken: Ct);

        await client.SendAsync("""{"type":"subscribe","streams":["plugs"]}""");
        Assert.Equal("forbidden_stream", Code(await client.ReceiveAsync()));
        await client.SendAsync("""{"type":"subscribe","streams":["boiler"]}""");
        Assert.Equal("unknown_stream", Code(await client.ReceiveAsync()));
        await client.SendAsync("""{"type":"subscribe","streams":["heatpump"]}""");
        Assert.Equal("""{"type":"subscribed","streams":["energy","heatpump"],"devices":null,"channels":null}""", await client.ReceiveAsync());

        var device = $"thermiq-{Guid.NewGuid():N}";
        using var producer = fixture.Kafka.CreateProducer();
        await SeedReadings.ProduceAsync(producer, fixture.HeatPumpTopic, [HomelabStreams.Example("heatpump", r => r["device_id"] = device)]);
        using var frame = JsonDocument.Parse(await client.ReceiveAsync());
        Assert.Equal("heatpump", frame.RootElement.GetProperty("stream").GetString());
        Assert.Equal(device, frame.RootElement.GetProperty("device").GetString());
    }

    [Theory]
    [InlineData("/api/readings?stream=heatpump")]
    [InlineData("/api/readings/latest?stream=plugs")]
    public async Task Api_StreamTheTokenMayNotRead_Is403WithTheChallenge(string pathAndQuery)
    {
        using var http = new HttpClient { BaseAddress = fixture.App.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token("openid"));

        using var refused = await http.GetAsync(new Uri(pathAndQuery, UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.StartsWith("Bearer error=\"insufficient_scope\", scope=\"", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token("heatpump:read", "plugs:read"));
        using var allowed = await http.GetAsync(new Uri(pathAndQuery, UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using var energy = await http.GetAsync(new Uri("/api/readings", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, energy.StatusCode);
    }

    private static string? Code(string message)
    {
        using var json = JsonDocument.Parse(message);
        return json.RootElement.GetProperty("code").GetString();
    }
}
