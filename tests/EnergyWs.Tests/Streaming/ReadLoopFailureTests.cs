using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using EnergyWs.Streaming;
using EnergyWs.Tests.Auth;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EnergyWs.Tests.Streaming;

/// <summary>A connection whose message handling fails still ends with a close handshake and a stopped writer.</summary>
public sealed class ReadLoopFailureTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HandlerThrows_ClientGets1011CloseAndRunEndsWithServerError()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var clientTcp = new TcpClient();
        await clientTcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, Ct);
        using var serverTcp = await listener.AcceptTcpClientAsync(Ct);

        var transport = new WebSocketTransport(serverTcp.GetStream());
        using var serverSocket = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true });
        using var client = WebSocket.CreateFromStream(clientTcp.GetStream(), new WebSocketCreationOptions { IsServer = false });
        var logs = new LogCapture();
        var connection = new ClientConnection(
            serverSocket, transport, ClientSelection.All, "127.0.0.1:1", new StreamingOptions(),
            new StreamingMetrics(services.GetRequiredService<IMeterFactory>()), TimeProvider.System, logs.CreateLogger("test"))
        {
            // Stands in for any bug in handling a message.
            OnMessage = (_, _) => throw new InvalidOperationException("handler bug"),
        };
        var run = connection.RunAsync(Ct);

        await client.SendAsync("""{"type":"ping"}"""u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        var buffer = new byte[256];
        var result = await client.ReceiveAsync(buffer, Ct).WaitAsync(Eventually.DefaultTimeout, Ct);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, result.CloseStatus);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", Ct);

        // RunAsync returns (the writer stopped) instead of throwing the handler's exception.
        Assert.Equal(CloseReason.ServerError, await run.WaitAsync(Eventually.DefaultTimeout, Ct));
        Assert.Single(logs.Lines, l => l.Contains("[3010]", StringComparison.Ordinal) && l.Contains("handler bug", StringComparison.Ordinal));
    }
}
