using System.Net.Sockets;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnergyWs.Streaming;

/// <summary>
/// The byte stream under a server WebSocket, shared by two writers: the runtime's WebSocket, which
/// writes control frames (ping, pong, close), and the connection's writer, which writes data
/// frames it framed itself, many per write.
/// </summary>
/// <remarks>
/// Why: <see cref="System.Net.WebSockets.WebSocket.SendAsync(ReadOnlyMemory{byte}, System.Net.WebSockets.WebSocketMessageType, bool, CancellationToken)"/>
/// writes and flushes one message at a time: one socket write per reading per client. A client
/// with a backlog gets it in one write here instead, which is what lets a 2-core box keep up with
/// thousands of clients. Every write goes through one gate, so frames never interleave; each
/// write holds whole frames only.
/// <para>
/// On a plain HTTP/1.1 connection the writes go to the connection's socket itself; when, and what
/// that relies on, is stated in <see cref="DirectSocketWrites"/>. Reads stay with Kestrel.
/// </para>
/// </remarks>
internal sealed class WebSocketTransport(Stream inner, Socket? socket = null) : Stream
{
    private const int CloseOpcode = 0x8;

    private readonly SemaphoreSlim _gate = new(1, 1);

    // Set when the runtime's WebSocket writes a close frame (it may, from the read side, on a
    // protocol error): after it no data frame may follow (RFC 6455 §5.5.1).
    private bool _closeSent;

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Writes whole, already framed WebSocket frames in one write; throws once a close frame was sent.</summary>
    public async ValueTask WriteFramesAsync(ReadOnlyMemory<byte> frames)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_closeSent)
            {
                throw new WebSocketException(WebSocketError.InvalidState, "The close frame was already sent.");
            }

            await SendAsync(frames, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        WriteGatedAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteGatedAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteGatedAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask().GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Whether writes go to the socket itself rather than through Kestrel's output pipe.</summary>
    public bool WritesToSocket => socket is not null;

    private ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        socket is null ? inner.WriteAsync(data, cancellationToken) : DirectSocketWrites.SendAsync(socket, data, cancellationToken);

    private async ValueTask WriteGatedAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The runtime writes each frame, header first, in one call.
            if (!buffer.IsEmpty && (buffer.Span[0] & 0x0F) == CloseOpcode)
            {
                _closeSent = true;
            }

            await SendAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Hands the WebSocket middleware a <see cref="WebSocketTransport"/> instead of the raw upgraded
    /// stream (HTTP/1.1 upgrade and HTTP/2 extended CONNECT), and keeps it for the endpoint.
    /// Must run before UseWebSockets, which captures the upgrade features when the request arrives.
    /// </summary>
    public static IApplicationBuilder Use(IApplicationBuilder app)
    {
        // Read per upgrade, not here: options are validated when the host starts, after the
        // pipeline is built, and a bad setting must stop startup with one line.
        var options = app.ApplicationServices.GetRequiredService<IOptions<StreamingOptions>>();
        var transport = app.ApplicationServices.GetRequiredService<IOptions<SocketTransportOptions>>();
        return app.Use((context, next) => Wrap(context, next, options, transport));
    }

    private static Task Wrap(HttpContext context, RequestDelegate next, IOptions<StreamingOptions> options, IOptions<SocketTransportOptions> transport)
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            var socket = DirectSocketWrites.SocketFor(context, options.Value, transport.Value);
            var feature = new UpgradeFeature(upgrade, socket);
            context.Features.Set<IHttpUpgradeFeature>(feature);
            context.Features.Set<IWebSocketTransportFeature>(feature);
        }
        else if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            var feature = new ExtendedConnectFeature(connect);
            context.Features.Set<IHttpExtendedConnectFeature>(feature);
            context.Features.Set<IWebSocketTransportFeature>(feature);
        }

        return next(context);
    }

    private sealed class UpgradeFeature(IHttpUpgradeFeature inner, Socket? socket) : IHttpUpgradeFeature, IWebSocketTransportFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public WebSocketTransport? Transport { get; private set; }

        public async Task<Stream> UpgradeAsync() => Transport = new WebSocketTransport(await inner.UpgradeAsync(), socket);
    }

    private sealed class ExtendedConnectFeature(IHttpExtendedConnectFeature inner) : IHttpExtendedConnectFeature, IWebSocketTransportFeature
    {
        public bool IsExtendedConnect => inner.IsExtendedConnect;

        public string? Protocol => inner.Protocol;

        public WebSocketTransport? Transport { get; private set; }

        public async ValueTask<Stream> AcceptAsync() => Transport = new WebSocketTransport(await inner.AcceptAsync());
    }
}

/// <summary>The transport under an accepted WebSocket (set by <see cref="WebSocketTransport.Use"/>).</summary>
internal interface IWebSocketTransportFeature
{
    WebSocketTransport? Transport { get; }
}
