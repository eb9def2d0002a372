using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EnergyWs.Tests.History;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Protocol;

/// <summary>/ws/energy speaks the original service's protocol.</summary>
public sealed class EnergyCompatTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Envelope(DateTimeOffset timestamp, string reading) =>
        $$"""{"type":"data","stream":"energy","timestamp":"{{TimedReadings.Iso(timestamp)}}","data":{{reading}}}""";

    [Fact]
    public async Task Energy_StreamsReadingsInTheOriginalEnvelopeFromConnect()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var compat = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws/energy"), cancellationToken: Ct);
        await using var plain = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<EnergyWs.Streaming.Broadcaster>().Count == 2, "both clients are registered", Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(1));

        await stack.ProduceAsync([TimedReadings.Series(start, 0), TimedReadings.Series(start, 1)]);

        Assert.Equal([Envelope(start, TimedReadings.Series(start, 0)), Envelope(start.AddSeconds(1), TimedReadings.Series(start, 1))], await compat.ReceiveManyAsync(2));
        Assert.Equal([TimedReadings.Series(start, 0), TimedReadings.Series(start, 1)], await plain.ReceiveManyAsync(2));
    }

    [Theory]
    [InlineData(WebSocketMessageType.Text)]
    [InlineData(WebSocketMessageType.Binary)]
    public async Task Energy_ControlMessages_GetTheOriginalAnswers(WebSocketMessageType frameType)
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws/energy"), cancellationToken: Ct);
        Task SendAsync(string text) => client.Socket.SendAsync(Encoding.UTF8.GetBytes(text), frameType, true, Ct);

        await SendAsync("""{"type":"subscribe","streams":["energy"]}""");
        Assert.Equal("""{"type":"subscribed","streams":["energy"]}""", await client.ReceiveAsync());

        await SendAsync("""{"type":"ping"}""");
        using (var pong = JsonDocument.Parse(await client.ReceiveAsync()))
        {
            Assert.Equal("pong", pong.RootElement.GetProperty("type").GetString());
            Assert.True(pong.RootElement.GetProperty("timestamp").TryGetDateTimeOffset(out _));
        }

        await SendAsync("""{"type":"subscribe","streams":["weather"]}""");
        using (var error = JsonDocument.Parse(await client.ReceiveAsync()))
        {
            Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
            Assert.Equal("unknown_stream", error.RootElement.GetProperty("code").GetString());
            Assert.False(string.IsNullOrEmpty(error.RootElement.GetProperty("message").GetString()));
        }

        await SendAsync("not json");
        Assert.StartsWith("""{"type":"error","message":""", await client.ReceiveAsync(), StringComparison.Ordinal);

        await SendAsync("""{"type":"unsubscribe","streams":["energy"]}""");
        Assert.Equal("""{"type":"unsubscribed","streams":["energy"]}""", await client.ReceiveAsync());
    }

    [Fact]
    public async Task Energy_Unsubscribe_StopsDataAndSubscribeResumesIt()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws/energy"), cancellationToken: Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(1));

        await client.SendAsync("""{"type":"unsubscribe","streams":["energy"]}""");
        Assert.Equal("""{"type":"unsubscribed","streams":["energy"]}""", await client.ReceiveAsync());
        await stack.ProduceAsync([TimedReadings.Series(start, 0)]);
        await TimedReadings.ConsumedAsync(stack.App, 1, Ct);

        await client.SendAsync("""{"type":"subscribe","streams":["energy"]}""");
        Assert.Equal("""{"type":"subscribed","streams":["energy"]}""", await client.ReceiveAsync());
        await stack.ProduceAsync([TimedReadings.Series(start, 1)]);
        Assert.Equal(Envelope(start.AddSeconds(1), TimedReadings.Series(start, 1)), await client.ReceiveAsync());
    }

    [Fact]
    public async Task Energy_HistoryReplay_IsEnvelopedToo()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(5));
        await stack.ProduceAsync([TimedReadings.Series(start, 0), TimedReadings.Series(start, 1)]);
        await TimedReadings.ConsumedAsync(stack.App, 2, Ct);

        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws/energy?history=1h"), cancellationToken: Ct);

        Assert.Equal([Envelope(start, TimedReadings.Series(start, 0)), Envelope(start.AddSeconds(1), TimedReadings.Series(start, 1))], await client.ReceiveManyAsync(2));
    }
}
