using System.Net;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.History;

/// <summary>Streaming:ApiRequestsPerMinute and Streaming:ApiRequestBurst, per client IP.</summary>
public sealed class ReadingsApiRateLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReadingsApi_BurstSpent_Gets429WithRetryAfterOnBothRoutesWhileWebSocketsStillConnect()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:ApiRequestsPerMinute"] = "1",
            ["Streaming:ApiRequestBurst"] = "3",
        }, Ct);
        using var http = new HttpClient { BaseAddress = stack.App.BaseAddress };

        foreach (var path in new[] { "/api/readings", "/api/readings/latest", "/api/readings" })
        {
            using var ok = await http.GetAsync(new Uri(path, UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        foreach (var path in new[] { "/api/readings", "/api/readings/latest" })
        {
            using var refused = await http.GetAsync(new Uri(path, UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var retryAfter = refused.Headers.RetryAfter?.Delta;
            Assert.True(retryAfter >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
        }

        // A separate allowance: the spent API budget does not block connection attempts.
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
    }
}
