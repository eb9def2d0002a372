using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming;

/// <summary>
/// A connection's only receiver: reads the client's messages, enforces
/// <see cref="StreamingOptions.MaxMessageBytes"/>, hands each to the control protocol, and once a
/// close is asked for, reads on until the client's close frame.
/// </summary>
internal sealed class ConnectionReader(
    WebSocket socket,
    ClientConnection connection,
    IControlProtocol? protocol,
    CloseRequest close,
    StreamingOptions options,
    LogThrottle failures,
    ILogger logger)
{
    private const int SmallReceiveBuffer = 256;

    private readonly WebSocket _socket = socket;
    private readonly ClientConnection _connection = connection;
    private readonly IControlProtocol? _protocol = protocol;
    private readonly CloseRequest _close = close;
    private readonly StreamingOptions _options = options;
    private readonly LogThrottle _failures = failures;
    private readonly ILogger _logger = logger;

    /// <summary>
    /// Reads client messages; returns true when the client sent a close frame, false when the socket
    /// broke. Never throws: every way it ends reaches RunAsync's close. A failure in handling a
    /// message (not in the socket) sets ServerError first, then keeps reading until the client's
    /// close reply, so the 1011 handshake completes and no unread data turns the abort into a reset.
    /// </summary>
    public async Task<bool> RunAsync()
    {
        // Idle clients wait on a small buffer; a larger one is rented only while a long message arrives.
        var small = new byte[SmallReceiveBuffer];
        try
        {
            return await ReadMessagesAsync(small);
        }
#pragma warning disable CA1031 // A bug in handling a message must close this connection through RunAsync, not fault the reader.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // Socket failures never get here (ReceiveAsync reports them as null): this is the handler or our own code.
            if (_failures.ShouldLog(out var suppressed))
            {
                Log.ReaderFailed(_logger, ex, _connection.Remote, suppressed);
            }

            // The reason is set before RunAsync sees the reader end, so the client gets 1011.
            _close.Request(CloseReason.ServerError);
            return await DrainUntilCloseAsync(small);
        }
    }

    /// <summary>The message loop of <see cref="RunAsync"/>; throws only what handling a message throws.</summary>
    private async Task<bool> ReadMessagesAsync(byte[] small)
    {
        byte[]? rented = null;
        try
        {
            while (true)
            {
                if (await ReceiveAsync(small) is not { } result)
                {
                    return false;
                }

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return true;
                }

                var length = result.Count;
                var buffer = small;
                while (!result.EndOfMessage)
                {
                    if (rented is null)
                    {
                        rented = ArrayPool<byte>.Shared.Rent(_options.MaxMessageBytes + 1);
                        small.AsSpan(0, length).CopyTo(rented);
                    }

                    buffer = rented;
                    if (length >= _options.MaxMessageBytes + 1)
                    {
                        break;
                    }

                    if (await ReceiveAsync(rented.AsMemory(length, _options.MaxMessageBytes + 1 - length)) is not { } next)
                    {
                        return false;
                    }

                    if (next.MessageType == WebSocketMessageType.Close)
                    {
                        return true;
                    }

                    result = next;
                    length += result.Count;
                }

                if (length > _options.MaxMessageBytes)
                {
                    _close.Request(CloseReason.MessageTooBig);
                    return await DrainUntilCloseAsync(small);
                }

                if (_protocol is { } protocol && !_close.IsRequested)
                {
                    await protocol.HandleAsync(_connection, buffer.AsMemory(0, length));
                }

                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                    rented = null;
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// One receive; null when the socket broke or was aborted. Only the socket's own failures are
    /// caught here: the same exception types thrown by a message handler are bugs and reach the 1011 path.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ValueWebSocketReceiveResult?> ReceiveAsync(Memory<byte> buffer)
    {
        try
        {
            return await _socket.ReceiveAsync(buffer, CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>After we asked to close, discard whatever the client still sends until its close frame.</summary>
    private async Task<bool> DrainUntilCloseAsync(byte[] buffer)
    {
        while (true)
        {
            if (await ReceiveAsync(buffer) is not { } result)
            {
                return false;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return true;
            }
        }
    }
}
