using EnergyWs.History;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.History;

public sealed class HistoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Connect_WithoutHistory_GetsLatestReadingFirstThenLive()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(5));
        await stack.ProduceAsync(Enumerable.Range(0, 3).Select(i => TimedReadings.Series(start, i)));
        await TimedReadings.ConsumedAsync(stack.App, 3, Ct);

        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        Assert.Equal(TimedReadings.Series(start, 2), await client.ReceiveAsync());

        await stack.ProduceAsync([TimedReadings.Series(start, 3)]);
        Assert.Equal(TimedReadings.Series(start, 3), await client.ReceiveAsync());
        Assert.False(client.TryReceive(out _));
    }

    [Fact]
    public async Task History_15m_ReplaysReadingsInTheWindowInOrderThenLive()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        string[] old = [TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromMinutes(20)), 0), TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromMinutes(16)), 1)];
        string[] recent = [TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromMinutes(14)), 2), TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromMinutes(1)), 3)];
        await stack.ProduceAsync([.. old, .. recent]);
        await TimedReadings.ConsumedAsync(stack.App, 4, Ct);

        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws?history=15m"), cancellationToken: Ct);
        Assert.Equal(recent, await client.ReceiveManyAsync(2));

        var live = TimedReadings.Json(TimedReadings.Ago(TimeSpan.Zero), 4);
        await stack.ProduceAsync([live]);
        Assert.Equal(live, await client.ReceiveAsync());
        Assert.False(client.TryReceive(out _));
    }

    [Fact]
    public async Task Since_ReplaysReadingsStrictlyAfterTheInstant()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(10));
        var all = Enumerable.Range(0, 5).Select(i => TimedReadings.Series(start, i)).ToList();
        await stack.ProduceAsync(all);
        await TimedReadings.ConsumedAsync(stack.App, 5, Ct);

        var since = Uri.EscapeDataString(TimedReadings.Iso(start.AddSeconds(2)));
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri($"/ws?since={since}"), cancellationToken: Ct);

        Assert.Equal(all[3..], await client.ReceiveManyAsync(2));
        await stack.ProduceAsync([TimedReadings.Series(start, 5)]);
        Assert.Equal(TimedReadings.Series(start, 5), await client.ReceiveAsync());
    }

    [Fact]
    public async Task Resume_AcrossForcedDisconnect_EveryReadingExactlyOnceInOrder()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(30));
        var expected = Enumerable.Range(0, 600).Select(i => TimedReadings.Series(start, i)).ToList();

        var first = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "the client is registered", Ct);
        await stack.ProduceAsync(expected[..100]);
        var received = await first.ReceiveManyAsync(100);

        // Drop the connection without a close handshake, as a network failure would.
        first.Socket.Abort();
        await first.DisposeAsync();
        await stack.ProduceAsync(expected[100..300]);

        // Reconnect while readings keep arriving, so replay and live meet at a moving seam.
        var producing = stack.ProduceAsync(expected[300..]);
        var since = Uri.EscapeDataString(TimedReadings.Iso(start.AddSeconds(99)));
        await using var second = await WsClient.ConnectAsync(stack.App.WebSocketUri($"/ws?since={since}"), cancellationToken: Ct);
        await producing;
        received.AddRange(await second.ReceiveManyAsync(500));

        Assert.Equal(expected, received);
        await TimedReadings.ConsumedAsync(stack.App, 600, Ct);
        Assert.False(second.TryReceive(out var extra), $"unexpected extra message {extra}");
    }

    [Fact]
    public async Task Restart_RebuildsHistoryFromTheBroker_DroppingReadingsOlderThanTheWindow()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var start = TimedReadings.Ago(TimeSpan.FromHours(1));
        var recent = Enumerable.Range(0, 300).Select(i => TimedReadings.Series(start, i)).ToList();
        using (var producer = kafka.CreateProducer())
        {
            // Produced while no instance runs: one reading from before the window, then the last hour.
            await SeedReadings.ProduceAsync(producer, topic, [TimedReadings.Json(TimedReadings.Ago(TimeSpan.FromHours(25)), 999), .. recent]);
        }

        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
        await TimedReadings.ConsumedAsync(app, 301, Ct);
        Assert.Equal(300, app.Get<ReadingHistory>().Count);

        await using var client = await WsClient.ConnectAsync(app.WebSocketUri("/ws?history=1d"), cancellationToken: Ct);
        Assert.Equal(recent, await client.ReceiveManyAsync(recent.Count));
    }

    [Fact]
    public async Task Restart_RebuiltReadings_AreNotBroadcastLive()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(10));
        using var producer = kafka.CreateProducer();
        await SeedReadings.ProduceAsync(producer, topic, Enumerable.Range(0, 5).Select(i => TimedReadings.Series(start, i)));

        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic).StartAsync(Ct);
        await TimedReadings.ConsumedAsync(app, 5, Ct);
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct);

        // Only the last value, then the next live reading.
        Assert.Equal(TimedReadings.Series(start, 4), await client.ReceiveAsync());
        await SeedReadings.ProduceAsync(producer, topic, [TimedReadings.Series(start, 5)]);
        Assert.Equal(TimedReadings.Series(start, 5), await client.ReceiveAsync());
    }

    [Fact]
    public async Task History_ADayOfReadings_IsReplayedCompletelyInOrder()
    {
        await using var stack = await TestStack.StartAsync(Ct);

        // One reading a second for a day, put into the history directly (producing them through the broker adds nothing here).
        const int count = 86_400;
        var history = stack.App.Get<ReadingHistory>();
        var start = DateTimeOffset.UtcNow.AddDays(-1).AddMinutes(1);
        var expected = new List<string>(count);
        for (var i = 1; i <= count; i++)
        {
            var frame = ReadingHistoryTests.Frame(i, "meter", "0", i, start.AddSeconds(i));
            history.Append(frame);
            expected.Add(System.Text.Encoding.UTF8.GetString(frame.Utf8Json.Span));
        }

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws?history=1d"), cancellationToken: Ct);
        var received = await client.ReceiveManyAsync(count);
        stopwatch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine($"Replayed {count} readings in {stopwatch.ElapsedMilliseconds} ms");

        Assert.Equal(expected, received);
        Assert.False(client.TryReceive(out _));
    }

    [Theory]
    [InlineData("/ws?history=15")]
    [InlineData("/ws?history=0m")]
    [InlineData("/ws?history=1w")]
    [InlineData("/ws?since=yesterday")]
    [InlineData("/ws?history=1m&since=2026-01-08T19:30:00Z")]
    public async Task Ws_BadReplayParameter_Gets400(string pathAndQuery)
    {
        await using var stack = await TestStack.StartAsync(Ct);
        var ex = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => WsClient.ConnectAsync(stack.App.WebSocketUri(pathAndQuery), cancellationToken: Ct));
        Assert.Contains("400", ex.Message, StringComparison.Ordinal);
    }
}
