using System.Net;
using System.Net.Sockets;
using System.Text;
using EnergyWs.Management;
using EnergyWs.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace EnergyWs.Tests.Operations;

/// <summary>The management listener (Management:Port) serves what the public port must not.</summary>
public sealed class ManagementPortTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PublicPort_MetricsInAnySpelling_Is404WhileManagementPortServesTheScrape()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        using var publicHttp = new HttpClient { BaseAddress = stack.App.BaseAddress };
        using var management = new HttpClient { BaseAddress = stack.App.ManagementAddress };

        Assert.NotEqual(stack.App.BaseAddress.Port, stack.App.ManagementAddress.Port);
        // Traefik's PathPrefix(`/metrics`) is case-sensitive and ASP.NET routing is not.
        foreach (var path in new[] { "/metrics", "/METRICS", "/Metrics", "/metrics/", "/metrics?format=text" })
        {
            using var response = await publicHttp.GetAsync(new Uri(path, UriKind.Relative), Ct);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"public {path}: {(int)response.StatusCode}");
        }

        // The public port still does its job, and the management port counts it.
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Scrape.UntilMetricsAsync(management, t => Scrape.Value(t, "energyws_connections") >= 1, "the client is counted", Ct);
    }

    [Fact]
    public async Task PublicHealth_SaysOnlyTheStatus_ManagementHealthHasEachCheck()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        using var publicHttp = new HttpClient { BaseAddress = stack.App.BaseAddress };
        using var management = new HttpClient { BaseAddress = stack.App.ManagementAddress };

        await Scrape.UntilStatusAsync(publicHttp, "/health/ready", HttpStatusCode.OK, Eventually.DefaultTimeout, Ct);
        Assert.Equal("""{"status":"Healthy"}""", await publicHttp.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct));
        Assert.Equal("""{"status":"Healthy"}""", await publicHttp.GetStringAsync(new Uri("/health", UriKind.Relative), Ct));

        var details = await management.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct);
        Assert.Contains($"\"kafka\":{{\"status\":\"Healthy\",\"description\":\"consuming {stack.Topic}\"}}", details, StringComparison.Ordinal);
        Assert.Contains("\"lifecycle\":{\"status\":\"Healthy\"", details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KestrelEndpointsWithHttps_ManagementPortStillServesAndPublicTlsPortDoesNot()
    {
        using var certificate = new TestCertificate();
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Tls:Url"] = "https://127.0.0.1:0",
            ["Kestrel:Endpoints:Tls:Certificate:Path"] = certificate.Path,
            ["Kestrel:Endpoints:Tls:Certificate:Password"] = TestCertificate.Password,
        }, Ct);
        var https = Assert.Single(stack.App.Addresses);
        Assert.Equal(Uri.UriSchemeHttps, https.Scheme);
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (message, cert, chain, errors) => certificate.Validate(message, cert, chain, errors) };
        using var publicHttp = new HttpClient(handler) { BaseAddress = https };
        using var management = new HttpClient { BaseAddress = stack.App.ManagementAddress };

        Assert.Equal(HttpStatusCode.NotFound, (await publicHttp.GetAsync(new Uri("/metrics", UriKind.Relative), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await publicHttp.GetAsync(new Uri("/health", UriKind.Relative), Ct)).StatusCode);
        await Scrape.UntilMetricsAsync(management, t => t.Contains("energyws_kafka_consumer_lag", StringComparison.Ordinal), "the consumer lag is scraped", Ct);
    }

    [Fact]
    public async Task PublicPortLoopbackOnly_ManagementListenerBindsLoopbackOnly()
    {
        await using var stack = await TestStack.StartAsync(Ct);

        var bound = ManagementAddresses(stack.App);
        Assert.NotEmpty(bound);
        Assert.All(bound, address => Assert.True(address.IsLoopback, $"management listener on {address}"));
    }

    [Fact]
    public async Task ManagementHostEveryInterface_ManagementListenerBindsTheWildcard()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Management:Host"] = "*",
        }, Ct);

        var address = Assert.Single(ManagementAddresses(stack.App));
        Assert.Contains(address.Host, new[] { "[::]", "0.0.0.0" });
    }

    [Theory]
    [InlineData(null, "http://localhost:8080", "localhost")]
    [InlineData(null, "http://127.0.0.1:0;http://[::1]:0", "localhost")]
    [InlineData(null, "http://*:8080", "*")]
    [InlineData(null, "http://+:8080", "*")]
    [InlineData(null, "http://0.0.0.0:8080", "*")]
    [InlineData(null, "http://127.0.0.1:8080;http://192.0.2.10:8080", "*")]
    [InlineData(null, "http://energy.example:8080", "*")]
    [InlineData("10.0.0.5", "http://127.0.0.1:8080", "10.0.0.5")]
    [InlineData("*", "http://localhost:8080", "*")]
    public void ManagementHost_FollowsThePublicAddressesUnlessSet(string? setting, string publicAddresses, string host) =>
        Assert.Equal(host, ManagementListener.ResolveHost(setting, publicAddresses.Split(';')));

    [Fact]
    public async Task ManagementPort_ServesOnlyMetricsAndHealth_DashboardAndApiAre404()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        using var publicHttp = new HttpClient { BaseAddress = stack.App.BaseAddress };
        using var management = new HttpClient { BaseAddress = stack.App.ManagementAddress };

        // The same files are there on the public port.
        Assert.Equal(HttpStatusCode.OK, (await publicHttp.GetAsync(new Uri("/", UriKind.Relative), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await publicHttp.GetAsync(new Uri("/energy-ws-client.js", UriKind.Relative), Ct)).StatusCode);
        foreach (var path in new[] { "/", "/index.html", "/energy-ws-client.js", "/api/readings", "/ws", "/healthz", "/metricsx" })
        {
            using var response = await management.GetAsync(new Uri(path, UriKind.Relative), Ct);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"management {path}: {(int)response.StatusCode}");
        }

        foreach (var path in new[] { "/metrics", "/health", "/health/ready" })
        {
            using var response = await management.GetAsync(new Uri(path, UriKind.Relative), Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"management {path}: {(int)response.StatusCode}");
        }
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task PublicPort_MetricsPathTricksOnTheWire_Are404(string method)
    {
        await using var stack = await TestStack.StartAsync(Ct);
        var publicPort = stack.App.BaseAddress.Port;
        var managementPort = stack.App.ManagementAddress.Port;

        // The same raw request reaches the scrape on the management port, so a 404 below is the public port's answer.
        Assert.Equal(200, await StatusAsync(managementPort, $"{method} /metrics HTTP/1.1\r\nHost: 127.0.0.1:{managementPort}\r\n"));
        foreach (var path in new[] { "//metrics", "/%2Fmetrics", "/%2fmetrics", "/metrics%20", "/%6Detrics", "/./metrics", "/x/../metrics", "/metrics;x", "/metrics." })
        {
            var status = await StatusAsync(publicPort, $"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{publicPort}\r\n");
            Assert.True(status == 404, $"public {method} {path}: {status}");
        }

        var named = await StatusAsync(publicPort, $"{method} /metrics HTTP/1.1\r\nHost: 127.0.0.1:{managementPort}\r\n");
        Assert.True(named == 404, $"public {method} /metrics with Host naming the management port: {named}");
        var absolute = await StatusAsync(publicPort, $"{method} http://127.0.0.1:{managementPort}/metrics HTTP/1.1\r\nHost: 127.0.0.1:{managementPort}\r\n");
        Assert.True(absolute == 404, $"public {method} absolute-form naming the management port: {absolute}");
    }

    /// <summary>Sends <paramref name="head"/> (request line and headers) as written, and returns the response's status code.</summary>
    private static async Task<int> StatusAsync(int port, string head)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head + "Connection: close\r\n\r\n"), Ct);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync(Ct) ?? "";
        var parts = statusLine.Split(' ');
        Assert.True(parts.Length >= 2 && int.TryParse(parts[1], out _), $"status line: {statusLine}");
        return int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static List<Uri> ManagementAddresses(EnergyWsApp app)
    {
        var port = app.Get<ManagementListener>().Port;
        return [.. app.Get<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(address => new Uri(address)).Where(address => address.Port == port)];
    }
}
