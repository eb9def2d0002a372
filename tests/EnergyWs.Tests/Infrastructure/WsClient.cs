using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;

namespace EnergyWs.Tests.Infrastructure;

/// <summary>A real ClientWebSocket that reads every message into a queue in the background.</summary>
internal sealed class WsClient : IAsyncDisposable
{
    private readonly Channel<string> _messages = Channel.CreateUnbounded<string>();
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Description)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _reader;

    private WsClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    /// <summary>Completes with the close status the server sent (null when the connection broke).</summary>
    public Task<(WebSocketCloseStatus? Status, string? Description)> Closed => _closed.Task;

    public static async Task<WsClient> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null, bool startReading = true, CancellationToken cancellationToken = default)
    {
        var socket = new ClientWebSocket();
        configure?.Invoke(socket.Options);
        await socket.ConnectAsync(uri, cancellationToken);
        var client = new WsClient(socket);
        if (startReading)
        {
            client.StartReading();
        }

        return client;
    }

    public void StartReading() => _reader ??= Task.Run(ReadLoopAsync);

    public async Task<string> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Eventually.DefaultTimeout);
        try
        {
            return await _messages.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No message arrived in time.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The connection closed: {(await Closed).Status} {(await Closed).Description}");
        }
    }

    public async Task<List<string>> ReceiveManyAsync(int count, TimeSpan? timeout = null)
    {
        var list = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            list.Add(await ReceiveAsync(timeout));
        }

        return list;
    }

    public bool TryReceive(out string? message) => _messages.Reader.TryRead(out message);

    public Task SendAsync(string text) =>
        Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult((result.CloseStatus, result.CloseStatusDescription));
                    if (Socket.State == WebSocketState.CloseReceived)
                    {
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    }

                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    _messages.Writer.TryWrite(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
                    message.SetLength(0);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException)
        {
            _closed.TrySetResult((null, ex.Message));
        }
        finally
        {
            _messages.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
            {
            }
        }

        Socket.Abort();
        if (_reader is not null)
        {
            await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        Socket.Dispose();
    }
}
