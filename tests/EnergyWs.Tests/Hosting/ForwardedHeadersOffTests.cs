using EnergyWs.Tests.Auth;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Hosting;

/// <summary>With forwarded headers off, trusted proxies and proxied requests are not ignored silently.</summary>
public sealed class ForwardedHeadersOffTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task KnownProxiesAndNetworksWithForwardedHeadersOff_OneWarningAtStartNamesBoth()
    {
        var logs = new LogCapture();
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Hosting:KnownProxies:0"] = "10.42.0.15",
            ["Hosting:KnownNetworks:0"] = "10.42.0.0/16",
        }, AuthSettings.Capture(logs), Ct);

        var line = Assert.Single(logs.Lines, l => l.Contains("[9201]", StringComparison.Ordinal));
        Assert.StartsWith("Warning", line, StringComparison.Ordinal);
        Assert.Contains("Hosting:KnownProxies and Hosting:KnownNetworks are set but forwarded headers are off", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoTrustedProxies_NoWarningAtStart()
    {
        var logs = new LogCapture();
        await using var stack = await TestStack.StartAsync(settings: null, services: AuthSettings.Capture(logs), Ct);

        Assert.DoesNotContain(logs.Lines, l => l.Contains("[9201]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RequestsWithXForwardedForWhileForwardedHeadersOff_WarnedOnce()
    {
        var logs = new LogCapture();
        await using var stack = await TestStack.StartAsync(settings: null, services: AuthSettings.Capture(logs), Ct);
        using var http = new HttpClient { BaseAddress = stack.App.BaseAddress };

        using (var plain = await http.GetAsync(new Uri("/health", UriKind.Relative), Ct))
        {
            Assert.DoesNotContain(logs.Lines, l => l.Contains("[9202]", StringComparison.Ordinal));
        }

        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/health", UriKind.Relative));
            request.Headers.Add("X-Forwarded-For", "203.0.113.9");
            using var response = await http.SendAsync(request, Ct);
        }

        var line = Assert.Single(logs.Lines, l => l.Contains("[9202]", StringComparison.Ordinal));
        Assert.Contains("127.0.0.1", line, StringComparison.Ordinal);
    }
}
