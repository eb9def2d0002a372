using System.Net;
using System.Net.WebSockets;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Auth;

/// <summary>The outcome of one real WebSocket handshake.</summary>
internal sealed record Handshake(HttpStatusCode Status, string? SubProtocol, string? WwwAuthenticate)
{
    public bool Upgraded => Status == HttpStatusCode.SwitchingProtocols;
}

internal static class AuthClient
{
    /// <summary>Opens a ClientWebSocket, reports what the server answered, and closes it again.</summary>
    public static async Task<Handshake> HandshakeAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        try
        {
            await socket.ConnectAsync(uri, cancellationToken);
        }
        catch (WebSocketException)
        {
            return new Handshake(socket.HttpStatusCode, null, Header(socket, "WWW-Authenticate"));
        }

        var result = new Handshake(socket.HttpStatusCode, socket.SubProtocol, null);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }

        return result;
    }

    public static Action<ClientWebSocketOptions> Bearer(string token) => o => o.SetRequestHeader("Authorization", "Bearer " + token);

    public static Action<ClientWebSocketOptions> SubProtocol(string token) => o =>
    {
        o.AddSubProtocol("bearer");
        o.AddSubProtocol(token);
    };

    /// <summary>Retries handshakes until one matches; for changes the server picks up on its own (key refresh).</summary>
    public static async Task<Handshake> EventuallyAsync(Func<Task<Handshake>> attempt, Func<Handshake, bool> wanted, string what, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(Eventually.DefaultTimeout);
        while (true)
        {
            var handshake = await attempt();
            if (wanted(handshake))
            {
                return handshake;
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cts.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Timed out waiting until {what}; last answer: {handshake}.");
            }
        }
    }

    private static string? Header(ClientWebSocket socket, string name) =>
        socket.HttpResponseHeaders is { } headers && headers.TryGetValue(name, out var values) ? string.Join(", ", values) : null;
}
