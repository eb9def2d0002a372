using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using CsCheck;
using EnergyWs.Streaming;
using EnergyWs.Tests.Auth;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Tests.Protocol;

/// <summary>Whatever a client sends as a control message, it gets an answer or a documented close; the server never fails.</summary>
public sealed class MalformedControlMessageTests
{
    /// <summary>Messages per connection: below the rate limit's burst, so the limiter never closes the fuzzing client.</summary>
    private const int MessagesPerConnection = 25;

    private static readonly string[] ErrorCodes = ["invalid_json", "missing_type", "unknown_type", "invalid_message", "too_many_values", "unknown_stream"];

    private static readonly string[] Valid =
    [
        """{"type":"ping"}""",
        """{"type":"subscribe","devices":["meter-a","meter-b"],"channels":["0"]}""",
        """{"type":"unsubscribe","devices":["meter-a"]}""",
        """{"type":"subscribe","devices":null,"channels":null}""",
        """{"type":"subscribe","streams":["energy"]}""",
        """{"type":"unsubscribe","streams":["energy"],"extra":{"a":[1,2.5e3,true]}}""",
    ];

    /// <summary>Byte sequences that break decoding: an escaped lone surrogate either way round, and invalid UTF-8.</summary>
    private static readonly byte[][] Poison =
    [
        "\\ud800"u8.ToArray(), "\\uDFFF"u8.ToArray(), "\\ud800\\u0041"u8.ToArray(), "\\u"u8.ToArray(), "\\"u8.ToArray(),
        [0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0x00],
        "\""u8.ToArray(), "{"u8.ToArray(), "]"u8.ToArray(), "1e999"u8.ToArray(), "[[[[[[[[[["u8.ToArray(),
    ];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A valid message with one mutation, or arbitrary bytes; sent as a text or binary frame.</summary>
    private static readonly Gen<(byte[] Payload, bool Binary)> Message = Gen.Select(
        Gen.Frequency<byte[]>(
            (1, Gen.Byte.Array[0, 64]),
            (4, Gen.Select(Gen.OneOf(Valid), Gen.Int[0, 4], Gen.Int[0, 1000], Gen.Int[0, 1000], Gen.OneOf(Poison), Gen.Byte).Select(m => Mutate(m.Item1, m.Item2, m.Item3, m.Item4, m.Item5, m.Item6)))),
        Gen.Bool);

    [Theory]
    [InlineData("/ws", """{"type":"subscribe","devices":["\ud800"]}""", false)]
    [InlineData("/ws", """{"type":"\udc00"}""", false)]
    [InlineData("/ws", "{\"type\":\"subscribe\",\"devices\":[\"\xFF\"]}", true)]
    [InlineData("/ws/energy", """{"type":"subscribe","streams":["\ud800"]}""", true)]
    [InlineData("/ws/energy", "{\"type\":\"subscribe\",\"streams\":[\"\xC3\"]}", true)]
    public async Task UndecodableString_IsAnsweredWithInvalidJsonAndConnectionStaysOpen(string path, string message, bool binary)
    {
        // \xFF in the literal is U+00FF; written as Latin-1 it is the single invalid UTF-8 byte 0xFF.
        var payload = Encoding.Latin1.GetBytes(message);
        var logs = new LogCapture();
        await using var stack = await TestStack.StartAsync(settings: null, services: AuthSettings.Capture(logs), Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(path), cancellationToken: Ct);

        await client.Socket.SendAsync(payload, binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text, true, Ct);
        using var error = JsonDocument.Parse(await client.ReceiveAsync());
        Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
        Assert.Equal("invalid_json", error.RootElement.GetProperty("code").GetString());

        await client.SendAsync("""{"type":"ping"}""");
        Assert.Contains("\"pong\"", await client.ReceiveAsync(), StringComparison.Ordinal);
        AssertNoErrorLogged(logs);
    }

    [Fact]
    public async Task MutatedAndRandomMessages_AnsweredOrClosedWithDocumentedCode_BystanderGetsEveryReading()
    {
        var logs = new LogCapture();
        await using var stack = await TestStack.StartAsync(settings: null, services: AuthSettings.Capture(logs), Ct);
        await using var bystander = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        var produced = new List<string>();

        WsClient? client = null;
        var sentOnConnection = 0;
        var connections = 0;
        var answered = 0;
        var refused = 0;
        var expectedAnswered = 0;
        var expectedRefused = 0;
        try
        {
            await Message.SampleAsync(
                async sample =>
                {
                    if (client is null || sentOnConnection == MessagesPerConnection)
                    {
                        if (client is not null)
                        {
                            await client.DisposeAsync();
                        }

                        // Both routes, in turn: their error replies differ in shape, not in rules.
                        client = await WsClient.ConnectAsync(stack.App.WebSocketUri(connections++ % 2 == 0 ? "/ws" : "/ws/energy"), cancellationToken: Ct);
                        sentOnConnection = 0;
                        produced.Add(SeedReadings.Json(produced.Count));
                        await stack.ProduceAsync([produced[^1]]);
                    }

                    sentOnConnection++;
                    var (payload, binary) = sample;

                    // A text frame that is not UTF-8 is refused by the WebSocket layer itself (1007, RFC 6455
                    // section 8.1); everything else reaches the parser and must be answered.
                    var reachesParser = binary || Utf8.IsValid(payload);
                    if (reachesParser)
                    {
                        expectedAnswered++;
                    }
                    else
                    {
                        expectedRefused++;
                    }

                    await client.Socket.SendAsync(payload, binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text, true, Ct);
                    if (await ReplyAsync(client) is { } reply)
                    {
                        Assert.True(reachesParser, $"answered {reply} to {Describe(payload)} as text, which is not UTF-8");
                        answered++;
                        AssertDocumentedReply(reply, payload);
                        return;
                    }

                    var (status, description) = await client.Closed;
                    Assert.True(!reachesParser && status == WebSocketCloseStatus.InvalidPayloadData,
                        $"closed with {status} '{description}' after {Describe(payload)} as {(binary ? "binary" : "text")}");
                    refused++;
                    await client.DisposeAsync();
                    client = null;
                },
                iter: 200,
                threads: 1,
                print: sample => $"{Describe(sample.Payload)} as {(sample.Binary ? "binary" : "text")}");
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
        }

        // Exact, whatever the seed: every message the parser sees is answered, every other one ends in 1007.
        Assert.Equal(expectedAnswered, answered);
        Assert.Equal(expectedRefused, refused);
        Assert.Equal(200, answered + refused);
        Assert.Equal(produced, await bystander.ReceiveManyAsync(produced.Count));
        AssertNoErrorLogged(logs);
    }

    /// <summary>The next control reply, skipping readings (bare on /ws, type "data" on /ws/energy); null once the connection closed.</summary>
    private static async Task<JsonElement?> ReplyAsync(WsClient client)
    {
        while (true)
        {
            string text;
            try
            {
                text = await client.ReceiveAsync();
            }
            catch (InvalidOperationException)
            {
                return null;
            }

            using var document = JsonDocument.Parse(text);
            if (document.RootElement.TryGetProperty("type", out var type) && type.GetString() != "data")
            {
                return document.RootElement.Clone();
            }
        }
    }

    private static void AssertDocumentedReply(JsonElement reply, byte[] payload)
    {
        var type = reply.GetProperty("type").GetString();
        if (type == "error")
        {
            Assert.Contains(reply.GetProperty("code").GetString(), ErrorCodes);
            Assert.False(string.IsNullOrEmpty(reply.GetProperty("message").GetString()));
            return;
        }

        Assert.True(type is "pong" or "subscribed" or "unsubscribed", $"reply {reply} to {Describe(payload)}");
    }

    private static void AssertNoErrorLogged(LogCapture logs)
    {
        var errors = logs.Lines.Where(l => l.StartsWith(nameof(LogLevel.Error), StringComparison.Ordinal) || l.StartsWith(nameof(LogLevel.Critical), StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));
    }

    /// <summary>One mutation of a valid message: insert poison (anywhere, or inside a string), replace a byte, delete a range, or truncate.</summary>
    private static byte[] Mutate(string valid, int kind, int at, int length, byte[] poison, byte replacement)
    {
        var bytes = Encoding.UTF8.GetBytes(valid);
        at %= bytes.Length + 1;
        return kind switch
        {
            0 => [.. bytes[..at], .. poison, .. bytes[at..]],
            1 when at < bytes.Length => [.. bytes[..at], replacement, .. bytes[(at + 1)..]],
            2 => [.. bytes[..at], .. bytes[Math.Min(bytes.Length, at + (length % 8) + 1)..]],
            3 when bytes.AsSpan(at).IndexOf((byte)'"') is var quote and >= 0 => [.. bytes[..(at + quote + 1)], .. poison, .. bytes[(at + quote + 1)..]],
            _ => bytes[..at],
        };
    }

    private static string Describe(byte[] payload) => Convert.ToHexString(payload) + " (" + Encoding.UTF8.GetString(payload) + ")";
}
