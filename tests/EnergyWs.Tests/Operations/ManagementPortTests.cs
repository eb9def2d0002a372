using System.Net;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Operations;

/// <summary>The management listener (Management:Port) serves what the public port must not.</summary>
public sealed class ManagementPortTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PublicPort_MetricsInAnySpelling_Is404WhileManagementPortServesTheScrape()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
        using var publicHttp = new HttpClient { BaseAddress = app.BaseAddress };
        using var management = new HttpClient { BaseAddress = app.ManagementAddress };

        Assert.NotEqual(app.BaseAddress.Port, app.ManagementAddress.Port);
        // Traefik's PathPrefix(`/metrics`) is case-sensitive and ASP.NET routing is not.
        foreach (var path in new[] { "/metrics", "/METRICS", "/Metrics", "/metrics/", "/metrics?format=text" })
        {
            using var response = await publicHttp.GetAsync(new Uri(path, UriKind.Relative), Ct);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"public {path}: {(int)response.StatusCode}");
        }

        // The public port still does its job, and the management port counts it.
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct);
        await Scrape.UntilMetricsAsync(management, t => Scrape.Value(t, "energyws_connections") >= 1, "the client is counted", Ct);
    }

    [Fact]
    public async Task PublicHealth_SaysOnlyTheStatus_ManagementHealthHasEachCheck()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
        using var publicHttp = new HttpClient { BaseAddress = app.BaseAddress };
        using var management = new HttpClient { BaseAddress = app.ManagementAddress };

        await Scrape.UntilStatusAsync(publicHttp, "/health/ready", HttpStatusCode.OK, Eventually.DefaultTimeout, Ct);
        Assert.Equal("""{"status":"Healthy"}""", await publicHttp.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct));
        Assert.Equal("""{"status":"Healthy"}""", await publicHttp.GetStringAsync(new Uri("/health", UriKind.Relative), Ct));

        var details = await management.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct);
        Assert.Contains($"\"kafka\":{{\"status\":\"Healthy\",\"description\":\"consuming {topic}\"}}", details, StringComparison.Ordinal);
        Assert.Contains("\"lifecycle\":{\"status\":\"Healthy\"", details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KestrelEndpointsWithHttps_ManagementPortStillServesAndPublicTlsPortDoesNot()
    {
        using var certificate = new TestCertificate();
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Tls:Url"] = "https://127.0.0.1:0",
            ["Kestrel:Endpoints:Tls:Certificate:Path"] = certificate.Path,
            ["Kestrel:Endpoints:Tls:Certificate:Password"] = TestCertificate.Password,
        }).StartAsync(Ct);
        var https = Assert.Single(app.Addresses);
        Assert.Equal(Uri.UriSchemeHttps, https.Scheme);
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (message, cert, chain, errors) => certificate.Validate(message, cert, chain, errors) };
        using var publicHttp = new HttpClient(handler) { BaseAddress = https };
        using var management = new HttpClient { BaseAddress = app.ManagementAddress };

        Assert.Equal(HttpStatusCode.NotFound, (await publicHttp.GetAsync(new Uri("/metrics", UriKind.Relative), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await publicHttp.GetAsync(new Uri("/health", UriKind.Relative), Ct)).StatusCode);
        await Scrape.UntilMetricsAsync(management, t => t.Contains("energyws_kafka_consumer_lag", StringComparison.Ordinal), "the consumer lag is scraped", Ct);
    }
}
