using System.Net;
using System.Net.WebSockets;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Operations;

/// <summary>Streaming:MaxConnectionsPerUser without authentication: per client IP.</summary>
public sealed class ConnectionsPerUserTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PerIpLimit_OneMoreConnection_Gets429WithRetryAfterAndAFreedSlotIsUsableAgain()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:MaxConnectionsPerUser"] = "2",
        }, Ct);
        await using var a = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await using var b = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);

        var (status, retryAfter) = await RefusedAsync(stack.App.WebSocketUri());
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.True(int.TryParse(retryAfter, out var seconds) && seconds >= 1, $"Retry-After: {retryAfter}");
        // Refused before the upgrade: the two clients are all the server holds.
        Assert.Equal(2, stack.App.Get<Broadcaster>().Count);

        await a.DisposeAsync();
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "the closed client is removed", Ct);
        await using var c = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
    }

    [Fact]
    public async Task PerIpLimit_ConcurrentConnectsAndDisconnects_EachSlotIsGivenBackExactlyOnce()
    {
        const int Limit = 4;
        const int Held = 2;
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Streaming:MaxConnectionsPerUser"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, Ct);
        var held = new List<WsClient>();
        for (var i = 0; i < Held; i++)
        {
            held.Add(await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct));
        }

        // Many more attempts than free slots, at once; each accepted one ends one of three ways.
        var accepted = 0;
        await Parallel.ForAsync(0, 40, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct }, async (i, ct) =>
        {
            using var socket = new ClientWebSocket();
            try
            {
                await socket.ConnectAsync(stack.App.WebSocketUri(), ct);
            }
            catch (WebSocketException)
            {
                return; // 429: the free slots were taken
            }

            Interlocked.Increment(ref accepted);
            switch (i % 3)
            {
                case 0:
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", ct);
                    break;
                case 1:
                    socket.Abort();
                    break;
                default:
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", ct);
                    break;
            }
        });
        Assert.True(accepted > 0, "no attempt got a slot");
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == Held, "only the held clients remain", Ct);

        // A slot given back twice would let more than Limit in now; one never given back, fewer.
        for (var i = Held; i < Limit; i++)
        {
            held.Add(await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct));
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await RefusedAsync(stack.App.WebSocketUri())).Status);
        foreach (var client in held)
        {
            await client.DisposeAsync();
        }
    }

    /// <summary>Attempts an upgrade that the server must refuse; returns the HTTP status and Retry-After.</summary>
    internal static async Task<(HttpStatusCode Status, string? RetryAfter)> RefusedAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, Ct));
        var headers = socket.HttpResponseHeaders;
        var retryAfter = headers is not null && headers.TryGetValue("Retry-After", out var values) ? values.FirstOrDefault() : null;
        return (socket.HttpStatusCode, retryAfter);
    }
}
