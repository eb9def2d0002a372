using System.Text.Json;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Hosting;

/// <summary>
/// Kestrel serving HTTPS itself, configured the standard ways (<c>urls</c> with the default
/// certificate, or a named endpoint with its own), on the service started as a user starts it.
/// </summary>
[Trait("Category", "Slow")]
public sealed class HttpsEndpointTests
{
    [Theory]
    [InlineData("urls")]
    [InlineData("endpoint")]
    public async Task Service_WithHttpsConfigured_StreamsReadingsOverWss(string how)
    {
        var ct = TestContext.Current.CancellationToken;
        using var certificate = new TestCertificate();
        string[] args = how == "urls"
            ?
            [
                "--urls", "https://127.0.0.1:0",
                $"--Kestrel:Certificates:Default:Path={certificate.Path}", $"--Kestrel:Certificates:Default:Password={TestCertificate.Password}",
            ]
            :
            [
                "--Kestrel:Endpoints:Tls:Url=https://127.0.0.1:0",
                $"--Kestrel:Endpoints:Tls:Certificate:Path={certificate.Path}", $"--Kestrel:Endpoints:Tls:Certificate:Password={TestCertificate.Password}",
            ];
        await using var service = ServiceProcess.StartJit(["--Auth:Enabled=false", .. args]);

        var url = await service.ReadWebSocketUrlAsync(ct);
        Assert.Equal("wss", url.Scheme);
        await using var client = await WsClient.ConnectAsync(url, options => options.RemoteCertificateValidationCallback = certificate.Validate, cancellationToken: ct);
        using var reading = JsonDocument.Parse(await client.ReceiveAsync());
        Assert.True(reading.RootElement.GetProperty("power_w").GetDouble() > 0);

        // The management listener is plain HTTP on its own port, next to the HTTPS endpoint.
        using var management = new HttpClient();
        Assert.Contains("energyws_connections", await management.GetStringAsync(service.MetricsUrl, ct), StringComparison.Ordinal);
    }
}
