using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Auth;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Streaming;

/// <summary>A connection whose message handling fails still ends with a close handshake and a stopped writer.</summary>
public sealed class ReadLoopFailureTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> HandlerExceptions => ["InvalidOperation", "OperationCanceled", "IO", "WebSocket", "ObjectDisposed"];

    [Theory]
    [MemberData(nameof(HandlerExceptions))]
    public async Task HandlerThrows_ClientGets1011CloseHandshakeAndRunEndsWithServerError(string kind)
    {
        // The socket's own failure types too: thrown by the handler, they are bugs, not a lost connection.
        Exception bug = kind switch
        {
            "OperationCanceled" => new OperationCanceledException("handler bug"),
            "IO" => new IOException("handler bug"),
            "WebSocket" => new WebSocketException("handler bug"),
            "ObjectDisposed" => new ObjectDisposedException("handler bug"),
            _ => new InvalidOperationException("handler bug"),
        };
        var logs = new LogCapture();
        await using var pair = await SocketPair.CreateAsync();
        var connection = pair.Connection(logs, TimeProvider.System, new LogThrottle(TimeProvider.System, LogThrottle.DefaultInterval), _ => throw bug);
        var run = connection.RunAsync(Ct);

        // The second message is still unread when the first one fails: the server must read past it.
        await pair.Client.SendAsync("""{"type":"ping"}"""u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        await pair.Client.SendAsync("""{"type":"ping"}"""u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        await pair.ExpectCloseAsync(WebSocketCloseStatus.InternalServerError);
        await pair.Client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", Ct);

        // RunAsync returns (the writer stopped) instead of throwing the handler's exception.
        Assert.Equal(CloseReason.ServerError, await run.WaitAsync(Eventually.DefaultTimeout, Ct));

        // Closed, not aborted: the server read the client's close reply before letting go of the socket.
        Assert.Equal(WebSocketState.Closed, pair.Server.State);
        Assert.Single(logs.Lines, l => l.Contains("[3010]", StringComparison.Ordinal) && l.Contains("handler bug", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HandlerFailsOnManyConnections_ErrorLoggedOncePerIntervalWithSuppressedCount()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        var throttle = new LogThrottle(time, LogThrottle.DefaultInterval);
        var logs = new LogCapture();

        for (var i = 0; i < 4; i++)
        {
            await FailOneAsync(logs, time, throttle);
        }

        Assert.Single(logs.Lines, l => l.Contains("[3010]", StringComparison.Ordinal));

        time.Advance(LogThrottle.DefaultInterval);
        await FailOneAsync(logs, time, throttle);
        var reported = logs.Lines.Where(l => l.Contains("[3010]", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, reported.Count);
        Assert.Contains("(3 more failures since the last report)", reported[1], StringComparison.Ordinal);
    }

    /// <summary>One connection whose handler fails on its first message, run to its end.</summary>
    private static async Task FailOneAsync(LogCapture logs, TimeProvider time, LogThrottle throttle)
    {
        await using var pair = await SocketPair.CreateAsync();
        var connection = pair.Connection(logs, time, throttle, _ => throw new InvalidOperationException("handler bug"));
        var run = connection.RunAsync(Ct);
        await pair.Client.SendAsync("""{"type":"ping"}"""u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        await pair.ExpectCloseAsync(WebSocketCloseStatus.InternalServerError);
        await pair.Client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", Ct);
        Assert.Equal(CloseReason.ServerError, await run.WaitAsync(Eventually.DefaultTimeout, Ct));
    }

    /// <summary>Stands in for any bug in handling a message.</summary>
    private sealed class FailingProtocol(Func<ReadOnlyMemory<byte>, ValueTask> onMessage) : IControlProtocol
    {
        public ValueTask HandleAsync(ClientConnection connection, ReadOnlyMemory<byte> message) => onMessage(message);

        public void Sweep(ClientConnection connection, DateTimeOffset utcNow)
        {
        }

        public ReadOnlyMemory<byte> Format(ReadingFrame frame) => frame.Utf8Json;
    }

    /// <summary>A server WebSocket over our transport and a client WebSocket, on a real loopback TCP connection.</summary>
    private sealed class SocketPair : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly TcpListener _listener;
        private readonly TcpClient _clientTcp;
        private readonly TcpClient _serverTcp;
        private readonly WebSocketTransport _transport;

        private SocketPair(ServiceProvider services, TcpListener listener, TcpClient clientTcp, TcpClient serverTcp)
        {
            _services = services;
            _listener = listener;
            _clientTcp = clientTcp;
            _serverTcp = serverTcp;
            _transport = new WebSocketTransport(serverTcp.GetStream());
            Server = WebSocket.CreateFromStream(_transport, new WebSocketCreationOptions { IsServer = true });
            Client = WebSocket.CreateFromStream(clientTcp.GetStream(), new WebSocketCreationOptions { IsServer = false });
        }

        public WebSocket Server { get; }

        public WebSocket Client { get; }

        public static async Task<SocketPair> CreateAsync()
        {
            var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var clientTcp = new TcpClient();
            await clientTcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, Ct);
            var serverTcp = await listener.AcceptTcpClientAsync(Ct);
            return new SocketPair(services, listener, clientTcp, serverTcp);
        }

        public ClientConnection Connection(LogCapture logs, TimeProvider time, LogThrottle throttle, Func<ReadOnlyMemory<byte>, ValueTask> onMessage) =>
            new(Server, _transport, ClientSelection.All, "127.0.0.1:1", new StreamingOptions(),
                new StreamingMetrics(_services.GetRequiredService<IMeterFactory>()), time, logs.CreateLogger("test"),
                new FailingProtocol(onMessage), throttle);

        public async Task ExpectCloseAsync(WebSocketCloseStatus status)
        {
            var buffer = new byte[256];
            var result = await Client.ReceiveAsync(buffer, Ct).WaitAsync(Eventually.DefaultTimeout, Ct);
            Assert.Equal(WebSocketMessageType.Close, result.MessageType);
            Assert.Equal(status, result.CloseStatus);
        }

        public ValueTask DisposeAsync()
        {
            Client.Dispose();
            Server.Dispose();
            _serverTcp.Dispose();
            _clientTcp.Dispose();
            _listener.Dispose();
            _services.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
