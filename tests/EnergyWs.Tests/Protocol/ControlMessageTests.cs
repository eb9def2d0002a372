using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EnergyWs.Streaming;
using EnergyWs.Tests.History;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Protocol;

public sealed class ControlMessageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ping_IsAnsweredWithPongAndCurrentTimestamp()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);

        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await client.SendAsync("""{"type":"ping"}""");

        using var pong = JsonDocument.Parse(await client.ReceiveAsync());
        Assert.Equal("pong", pong.RootElement.GetProperty("type").GetString());
        var timestamp = pong.RootElement.GetProperty("timestamp").GetDateTimeOffset();
        Assert.InRange(timestamp, before, DateTimeOffset.UtcNow.AddSeconds(1));
    }

    [Fact]
    public async Task Subscribe_NarrowsAndWidensTheSelectionLive()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(1));

        await client.SendAsync("""{"type":"subscribe","devices":["meter-a"],"channels":["0","1"]}""");
        Assert.Equal("""{"type":"subscribed","devices":["meter-a"],"channels":["0","1"]}""", await client.ReceiveAsync());
        await client.SendAsync("""{"type":"subscribe","devices":["meter-b"]}""");
        Assert.Equal("""{"type":"subscribed","devices":["meter-a","meter-b"],"channels":["0","1"]}""", await client.ReceiveAsync());
        await client.SendAsync("""{"type":"unsubscribe","devices":["meter-a"]}""");
        Assert.Equal("""{"type":"subscribed","devices":["meter-b"],"channels":["0","1"]}""", await client.ReceiveAsync());

        // A seed reading has no device: the narrowed client must not get it.
        await stack.ProduceAsync([TimedReadings.Series(start, 0)]);
        await TimedReadings.ConsumedAsync(stack.App, 1, Ct);

        await client.SendAsync("""{"type":"subscribe","devices":null,"channels":null}""");
        Assert.Equal("""{"type":"subscribed","devices":null,"channels":null}""", await client.ReceiveAsync());
        await stack.ProduceAsync([TimedReadings.Series(start, 1)]);
        Assert.Equal(TimedReadings.Series(start, 1), await client.ReceiveAsync());
    }

    [Theory]
    [InlineData("hello", "invalid_json")]
    [InlineData("[1,2]", "invalid_json")]
    [InlineData("""{"type":"ping"} trailing""", "invalid_json")]
    [InlineData("""{"devices":["a"]}""", "missing_type")]
    [InlineData("""{"type":"dance"}""", "unknown_type")]
    [InlineData("""{"type":"subscribe"}""", "invalid_message")]
    [InlineData("""{"type":"subscribe","devices":"a"}""", "invalid_message")]
    [InlineData("""{"type":"subscribe","devices":[1]}""", "invalid_message")]
    [InlineData("""{"type":"unsubscribe","devices":["a"]}""", "invalid_message")]
    public async Task InvalidMessage_IsAnsweredWithErrorAndConnectionStaysOpen(string message, string code)
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);

        await client.SendAsync(message);
        using var error = JsonDocument.Parse(await client.ReceiveAsync());
        Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
        Assert.Equal(code, error.RootElement.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.RootElement.GetProperty("message").GetString()));

        await client.SendAsync("""{"type":"ping"}""");
        Assert.Contains("\"pong\"", await client.ReceiveAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TooManyDevices_IsAnsweredWithTooManyValues()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        var first = string.Join(',', Enumerable.Range(0, 40).Select(i => $"\"d{i}\""));
        var second = string.Join(',', Enumerable.Range(40, 40).Select(i => $"\"d{i}\""));

        await client.SendAsync($$"""{"type":"subscribe","devices":[{{first}}]}""");
        Assert.StartsWith("""{"type":"subscribed","devices":["d0",""", await client.ReceiveAsync(), StringComparison.Ordinal);
        await client.SendAsync($$"""{"type":"subscribe","devices":[{{second}}]}""");
        Assert.Contains("\"too_many_values\"", await client.ReceiveAsync(), StringComparison.Ordinal);
        Assert.Equal(40, Assert.Single(stack.App.Get<Broadcaster>().Snapshot()).Selection.Devices!.Count);
    }

    [Fact]
    public async Task Flooding_GetsRateLimitedErrorThenClose1008()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);

        var ping = Encoding.UTF8.GetBytes("""{"type":"ping"}""");
        for (var i = 0; i < 200 && client.Socket.State == WebSocketState.Open; i++)
        {
            try
            {
                await client.Socket.SendAsync(ping, WebSocketMessageType.Text, true, Ct);
            }
            catch (WebSocketException)
            {
                break;
            }
        }

        var (status, description) = await client.Closed.WaitAsync(Eventually.DefaultTimeout, Ct);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("rate limited", description);

        var messages = new List<string>();
        while (client.TryReceive(out var m))
        {
            messages.Add(m!);
        }

        Assert.InRange(messages.Count(m => m.Contains("\"pong\"", StringComparison.Ordinal)), new EnergyWs.Streaming.StreamingOptions().ControlMessageBurst, 199);
        Assert.Contains("\"rate_limited\"", messages[^1], StringComparison.Ordinal);
    }
}
