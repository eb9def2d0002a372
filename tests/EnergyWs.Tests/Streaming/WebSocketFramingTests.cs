using System.Net.WebSockets;
using EnergyWs.Streaming;

namespace EnergyWs.Tests.Streaming;

public sealed class WebSocketFramingTests
{
    [Fact]
    public async Task FramesWrittenBackToBack_ReadByAStandardClient_AsSeparateTextMessages()
    {
        // Each length form of RFC 6455: 7-bit, 16-bit and 64-bit.
        int[] sizes = [0, 125, 126, 140, 65_535, 65_536, 200_000];
        var payloads = sizes.Select((size, i) => Enumerable.Range(0, size).Select(b => (byte)('a' + ((b + i) % 26))).ToArray()).ToList();
        var wire = new MemoryStream();
        foreach (var payload in payloads)
        {
            var header = new byte[WebSocketFraming.MaxHeaderBytes];
            wire.Write(header, 0, WebSocketFraming.WriteTextHeader(header, payload.Length));
            wire.Write(payload);
        }

        wire.Position = 0;
        using var client = WebSocket.CreateFromStream(wire, new WebSocketCreationOptions { IsServer = false });
        var buffer = new byte[256 * 1024];
        foreach (var expected in payloads)
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await client.ReceiveAsync(buffer.AsMemory(length), TestContext.Current.CancellationToken);
                length += result.Count;
            }
            while (!result.EndOfMessage);

            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            Assert.Equal(expected, buffer.AsSpan(0, length).ToArray());
        }
    }

    [Fact]
    public async Task Transport_AfterTheRuntimeSentACloseFrame_RefusesDataFrames()
    {
        // The runtime's WebSocket may close from the read side (a client protocol error) while our
        // writer still has frames: none may follow the close frame on the wire.
        var wire = new MemoryStream();
        var transport = new WebSocketTransport(wire);
        using var server = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true });
        var frame = new byte[WebSocketFraming.MaxHeaderBytes + 2];
        var length = WebSocketFraming.WriteTextHeader(frame, 2);
        "hi"u8.CopyTo(frame.AsSpan(length));

        await transport.WriteFramesAsync(frame.AsMemory(0, length + 2));
        await server.CloseOutputAsync(WebSocketCloseStatus.ProtocolError, "bad", TestContext.Current.CancellationToken);
        var written = wire.Length;

        await Assert.ThrowsAsync<WebSocketException>(async () => await transport.WriteFramesAsync(frame.AsMemory(0, length + 2)));
        Assert.Equal(written, wire.Length);
    }
}
