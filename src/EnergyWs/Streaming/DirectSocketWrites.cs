using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace EnergyWs.Streaming;

/// <summary>
/// WebSocket data frames written to the connection's socket itself instead of through Kestrel's
/// output pipe (<see cref="StreamingOptions.DirectSocketWrites"/>): whether it applies, the Kestrel
/// setting it needs, and the send. <see cref="WebSocketTransport"/> is the only caller of the send.
/// </summary>
/// <remarks>
/// Why: through Kestrel's pipe each write is copied into the pipe and sent by a transport thread
/// woken for it; on the socket it is one send on the writer's thread. At 1,000 clients × 10
/// readings/s that took the server from 23 % to 15 % of a core (README, Tuning).
/// <para>Invariants:</para>
/// <list type="bullet">
/// <item><b>Who writes when.</b> Until the upgrade returns, only Kestrel writes (the 101 response).
/// After it, Kestrel writes nothing more on the connection and only the connection's
/// <see cref="WebSocketTransport"/> does, one write at a time behind its gate (data frames from
/// the connection's writer, control frames from the runtime's WebSocket). Reads stay with Kestrel.</item>
/// <item><b>Why the transport's write buffer is 2 bytes.</b> Kestrel's upgrade returns once it has
/// flushed the 101 into the transport's output pipe; the pipe's socket sender sends it later, on its
/// own thread. With <see cref="SocketTransportOptions.MaxWriteBufferSize"/> at
/// <see cref="TransportWriteBufferBytes"/> the flush waits until the sender has handed the bytes to
/// the kernel, so the 101 is on the socket before our first byte. The option is the socket
/// transport's, taken when Kestrel binds, so it holds for every connection of the process, whether
/// it upgrades or not (bench/write-buffer.sh measures what that costs the others). With a larger
/// buffer a direct write could overtake the 101 and the client's handshake would fail, so the
/// socket is used only while the buffer is that small (<see cref="SocketFor"/>).</item>
/// <item><b>A blocked send.</b> A send completes synchronously when the kernel takes it all (the
/// usual case); otherwise it waits for room without holding a thread, and the gate stays held, so
/// nothing else is written to that connection meanwhile. A client that never reads again leaves it
/// pending until the connection is aborted (CloseTimeout after SlowClientTimeout): Kestrel then
/// closes the socket and the send fails with an <see cref="IOException"/>, which ends that
/// connection only (StalledClientTests).</item>
/// <item><b>When it falls back to Kestrel's pipe.</b> The setting off; Kestrel configured to serve
/// HTTPS (<c>Kestrel:Endpoints</c>, <c>urls</c>, <c>https_ports</c>; <see cref="ServesHttps"/>), where
/// the buffer keeps its default because every write goes through Kestrel and would pay a wait per
/// write; a TLS connection (the socket carries ciphertext); HTTP/2 (frames are multiplexed by Kestrel);
/// no socket behind the connection; or a transport buffer that is not 2 bytes. TLS configured in
/// code (<c>ListenOptions.UseHttps</c>) is seen per connection but leaves the small buffer: turn the
/// setting off there. A connection middleware that rewrote bytes would need it off too; none is configured.</item>
/// </list>
/// </remarks>
internal static class DirectSocketWrites
{
    /// <summary>The transport write buffer at which a flush waits for the send (a flush never waits below it).</summary>
    public const int TransportWriteBufferBytes = 2;

    /// <summary>Whether this host writes WebSocket frames to the socket: the setting on (default) and no HTTPS from configuration.</summary>
    /// <remarks>
    /// <paramref name="enabled"/> is the setting as bound at registration (<see cref="StreamingExtensions"/>);
    /// whether Kestrel serves HTTPS is read from Kestrel's own configuration, by its precedence.
    /// </remarks>
    public static bool AppliesTo(bool enabled, IConfiguration configuration) => enabled && !ServesHttps(configuration);

    /// <summary>Sets the transport's write buffer these writes need, when they apply.</summary>
    /// <param name="enabled">The bound, validated <see cref="StreamingOptions.DirectSocketWrites"/>.</param>
    public static void ConfigureTransport(SocketTransportOptions transport, bool enabled, IConfiguration configuration)
    {
        if (AppliesTo(enabled, configuration))
        {
            transport.MaxWriteBufferSize = TransportWriteBufferBytes;
        }
    }

    internal static bool ServesHttps(IConfiguration configuration)
    {
        static bool IsHttps(string? url) => url?.TrimStart().StartsWith("https://", StringComparison.OrdinalIgnoreCase) == true;

        var endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().ToList();
        if (endpoints.Count > 0)
        {
            return endpoints.Exists(endpoint => IsHttps(endpoint["Url"]));
        }

        if (configuration["urls"] is { Length: > 0 } urls)
        {
            return urls.Split(';').Any(IsHttps);
        }

        return !string.IsNullOrWhiteSpace(configuration["https_ports"]);
    }

    /// <summary>The socket an HTTP/1.1 upgrade of <paramref name="context"/> may write to, or null for Kestrel's pipe.</summary>
    public static Socket? SocketFor(HttpContext context, StreamingOptions options, SocketTransportOptions transport) =>
        options.DirectSocketWrites && transport.MaxWriteBufferSize is > 0 and <= TransportWriteBufferBytes &&
        context.Features.Get<ITlsConnectionFeature>() is null
            ? context.Features.Get<IConnectionSocketFeature>()?.Socket
            : null;

    /// <summary>Sends all of <paramref name="data"/>; the caller holds the connection's write gate.</summary>
    public static async ValueTask SendAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            while (!data.IsEmpty)
            {
                var sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                data = data[sent..];
            }
        }
        catch (SocketException ex)
        {
            // What a Stream throws for a broken connection: callers (the writer, the runtime's
            // WebSocket) treat IOException as the end of this connection only.
            throw new IOException(ex.Message, ex);
        }
    }
}
