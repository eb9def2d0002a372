using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace EnergyWs.Tests.Resilience;

/// <summary>
/// A TCP peer that speaks just enough HTTP to upgrade (or to fail to), then does whatever a
/// broken or hostile client does: nothing at all, or a reset without a close handshake.
/// </summary>
internal sealed class RawPeer : IDisposable
{
    private RawPeer(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public static string UpgradeRequest(int port, string pathAndQuery = "/ws", string version = "13", bool withKey = true) =>
        $"GET {pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        (withKey ? $"Sec-WebSocket-Key: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))}\r\n" : "") +
        $"Sec-WebSocket-Version: {version}\r\n\r\n";

    /// <summary>Connects, sends <paramref name="request"/> and reads the status code of the response head.</summary>
    public static async Task<(RawPeer Peer, int Status)> SendAsync(Uri baseAddress, string request, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var peer = new RawPeer(socket);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, baseAddress.Port), cancellationToken);
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, cancellationToken);
            return (peer, await ReadStatusAsync(socket, cancellationToken));
        }
        catch
        {
            peer.Dispose();
            throw;
        }
    }

    /// <summary>A completed WebSocket upgrade from a peer that will never read or write a frame.</summary>
    public static async Task<RawPeer> UpgradeAsync(Uri baseAddress, CancellationToken cancellationToken)
    {
        var (peer, status) = await SendAsync(baseAddress, UpgradeRequest(baseAddress.Port), cancellationToken);
        if (status != 101)
        {
            peer.Dispose();
            throw new InvalidOperationException($"upgrade refused with {status}");
        }

        return peer;
    }

    /// <summary>Ends the connection with a TCP RST: no close frame, no FIN.</summary>
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Close();
    }

    public void Dispose() => Socket.Dispose();

    // Reads only up to the end of the response head, byte by byte, so nothing after it (frames) is consumed.
    private static async Task<int> ReadStatusAsync(Socket socket, CancellationToken cancellationToken)
    {
        var head = new byte[4096];
        var length = 0;
        while (length < head.Length)
        {
            var read = await socket.ReceiveAsync(head.AsMemory(length, 1), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                break;
            }

            length++;
            if (length >= 4 && head.AsSpan(length - 4, 4).SequenceEqual("\r\n\r\n"u8))
            {
                break;
            }
        }

        var text = Encoding.ASCII.GetString(head, 0, length);
        // "HTTP/1.1 101 Switching Protocols"
        var parts = text.Split(' ', 3);
        return parts.Length >= 2 && int.TryParse(parts[1], out var status) ? status : 0;
    }
}
