using System.Net;
using System.Text;
using Confluent.Kafka;
using EnergyWs.History;
using EnergyWs.Kafka;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace EnergyWs.Tests.Kafka;

/// <summary>
/// One partition's leader is unreachable while the others work: the rest are read at once, that
/// one when its leader returns, and every reading produced meanwhile reaches clients once.
/// </summary>
public sealed class PartitionAssignmentTests
{
    private const int PartitionsUnavailableEvent = 1009;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Readings carry recent timestamps so the history window keeps them all.
    private static readonly DateTimeOffset Start = TimeProvider.System.GetUtcNow().AddHours(-1);

    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PartitionLeaderDownAtStart_WhenItIsReachable_EveryLaterReadingIsLiveOnceAndEarlierOnesOnlyHistory(bool leaderMoves)
    {
        Assert.SkipWhen(TestKafka.IsExternal, "needs the embedded broker to take one broker down");
        using var kafka = new TestKafka(brokerCount: 2);
        var broker = kafka.Embedded!;
        var topic = await kafka.CreateTopicAsync(partitions: 2);
        broker.SetPartitionLeader(topic, 0, 1);
        broker.SetPartitionLeader(topic, 1, 2);
        using var producer = kafka.CreateProducer();
        await ProduceAsync(producer, topic, 0, Range(0, 3));
        await ProduceAsync(producer, topic, 1, Range(100, 3));

        broker.SetBrokerDown(2);
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["Kafka:ReplayRecords"] = "10",
            ["Kafka:PartitionRefreshInterval"] = "00:00:05",
        }, services: s => s.AddFakeLogging()).StartAsync(Ct);
        var started = TimeProvider.System.GetTimestamp();
        using var http = new HttpClient { BaseAddress = app.ManagementAddress }; // readiness details are on the management port
        await Eventually.TrueAsync(() => app.Get<ReadingHistory>().Count == 3, "partition 0's history is read back", Ct);
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => app.Get<Broadcaster>().Count == 1, "the client is registered", Ct);
        // A client starts with the latest reading from history.
        Assert.Equal(Reading(2), await client.ReceiveAsync());

        await WaitForReadinessAsync(http, HttpStatusCode.ServiceUnavailable, "partition 1");

        // Partition 0 is read while partition 1's leader is down; the producer buffers partition 1's readings.
        var buffered = Range(110, 5).Select(i => producer.ProduceAsync(new TopicPartition(topic, 1), Message(i))).ToList();
        await ProduceAsync(producer, topic, 0, Range(10, 5));
        Assert.Equal(Range(10, 5).Select(Reading), await client.ReceiveManyAsync(5));

        if (leaderMoves)
        {
            // A leader election: the producer delivers its buffer to the new leader within about a
            // second, while the service's query in flight waits for the old one; so these readings
            // are below the high watermark its retried query sees. Produced after start, they are live.
            broker.SetPartitionLeader(topic, 1, 1);
            await Task.WhenAll(buffered);
            broker.SetBrokerUp(2);
        }
        else
        {
            // The broker returns: its buffered readings arrive before or after the retried query.
            broker.SetBrokerUp(2);
            await Task.WhenAll(buffered);
        }

        await ProduceAsync(producer, topic, 1, Range(115, 5));
        await ProduceAsync(producer, topic, 0, Range(15, 5));

        var received = await client.ReceiveManyAsync(15, TimeSpan.FromSeconds(30));
        Assert.Equal(Range(15, 5).Select(Reading), received.Where(r => Index(r) < 100));
        Assert.Equal(Range(110, 10).Select(Reading), received.Where(r => Index(r) >= 100));

        await WaitForReadinessAsync(http, HttpStatusCode.OK, "consuming");
        // Everything is in history, what was produced before start included: it was read, not broadcast.
        // (Green means the read-back is done and every live reading above was received.)
        Assert.Equal(26, app.Get<ReadingHistory>().Count);
        await ExpectOnlySentinelsAsync(client, producer, topic, (0, 30), (1, 130));

        // The failed query is retried every 1, 2, 4, 5 s but reported at most once per 5 s.
        var elapsed = TimeProvider.System.GetElapsedTime(started);
        var reports = app.Services.GetFakeLogCollector().GetSnapshot().Count(r => r.Id.Id == PartitionsUnavailableEvent);
        Assert.InRange(reports, 1, 1 + (int)(elapsed.TotalSeconds / 5));
    }

    [Fact(Timeout = 120_000)]
    public async Task PartitionsAddedWhileRunning_OneLeaderDown_TheOthersAreReadAtOnceAndItsReadingsAllArriveWhenItReturns()
    {
        Assert.SkipWhen(TestKafka.IsExternal, "needs the embedded broker to take one broker down");
        using var kafka = new TestKafka(brokerCount: 2);
        var broker = kafka.Embedded!;
        var topic = await kafka.CreateTopicAsync(partitions: 1);
        broker.SetPartitionLeader(topic, 0, 1);
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["Kafka:ReplayRecords"] = "10",
            ["Kafka:PartitionRefreshInterval"] = "00:00:01",
        }).StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = app.ManagementAddress }; // readiness details are on the management port
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => app.Get<Broadcaster>().Count == 1, "the client is registered", Ct);
        await WaitForReadinessAsync(http, HttpStatusCode.OK, "consuming");

        // The mock cannot add partitions to a topic: it is created again with three (partition 0
        // was empty, so the consumer's position in it stays valid). Partition 2's leader is down.
        broker.SetBrokerDown(2);
        broker.DeleteTopic(topic);
        broker.CreateTopic(topic, 3);
        broker.SetPartitionLeader(topic, 0, 1);
        broker.SetPartitionLeader(topic, 1, 1);
        broker.SetPartitionLeader(topic, 2, 2);

        using var producer = kafka.CreateProducer();
        var buffered = Range(200, 5).Select(i => producer.ProduceAsync(new TopicPartition(topic, 2), Message(i))).ToList();
        await ProduceAsync(producer, topic, 0, Range(0, 5));
        await ProduceAsync(producer, topic, 1, Range(100, 5));

        // Partition 1 is read from its beginning although partition 2 cannot be assigned yet.
        var received = await client.ReceiveManyAsync(10, TimeSpan.FromSeconds(30));
        Assert.Equal(Range(0, 5).Select(Reading), received.Where(r => Index(r) < 100));
        Assert.Equal(Range(100, 5).Select(Reading), received.Where(r => Index(r) >= 100));
        await WaitForReadinessAsync(http, HttpStatusCode.ServiceUnavailable, "partition 2");

        broker.SetBrokerUp(2);
        await Task.WhenAll(buffered);
        await ProduceAsync(producer, topic, 2, Range(205, 5));
        await ProduceAsync(producer, topic, 1, Range(105, 5));
        await ProduceAsync(producer, topic, 0, Range(5, 5));

        received = await client.ReceiveManyAsync(20, TimeSpan.FromSeconds(30));
        Assert.Equal(Range(5, 5).Select(Reading), received.Where(r => Index(r) < 100));
        Assert.Equal(Range(105, 5).Select(Reading), received.Where(r => Index(r) is >= 100 and < 200));
        Assert.Equal(Range(200, 10).Select(Reading), received.Where(r => Index(r) >= 200));

        await WaitForReadinessAsync(http, HttpStatusCode.OK, "consuming");
        await ExpectOnlySentinelsAsync(client, producer, topic, (0, 10), (1, 110), (2, 210));
    }

    [Fact(Timeout = 120_000)]
    public async Task FirstPartitionLeaderSlowAtStart_TheOthersAreAssignedWithoutWaitingAndTheirNewReadingsAreLive()
    {
        Assert.SkipWhen(TestKafka.IsExternal, "needs the embedded broker to take one broker down");
        using var kafka = new TestKafka(brokerCount: 2);
        var broker = kafka.Embedded!;
        var topic = await kafka.CreateTopicAsync(partitions: 3);
        broker.SetPartitionLeader(topic, 0, 2);
        broker.SetPartitionLeader(topic, 1, 1);
        broker.SetPartitionLeader(topic, 2, 1);
        // Partition 0's leader answers each request only after 2 s, so its first watermark query
        // waits the full 5 s and times out: the others must not be queued behind it. (A leader
        // that is down fails its query at once on this broker, so it cannot show this.)
        broker.SetBrokerRoundTrip(2, TimeSpan.FromSeconds(2));
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["Kafka:ReplayRecords"] = "10",
            ["Kafka:PartitionRefreshInterval"] = "00:00:05",
        }).StartAsync(waitForAssignment: false, Ct);
        var state = app.Get<ConsumerState>();
        using var http = new HttpClient { BaseAddress = app.ManagementAddress };

        bool Assigned(int partition) => state.Partitions.Any(p => p.Key == new PartitionKey(topic, partition));
        await Eventually.TrueAsync(() => Assigned(1) && Assigned(2), "partitions 1 and 2 are assigned", Ct);
        // Partition 0's first query is still in flight (neither assigned nor failed).
        Assert.False(Assigned(0), "partition 0 is assigned already");
        Assert.Equal("not assigned yet", Assert.Single(state.Unassigned, u => u.Key == new PartitionKey(topic, 0)).Value);
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => app.Get<Broadcaster>().Count == 1, "the client is registered", Ct);

        using var producer = kafka.CreateProducer();
        await ProduceAsync(producer, topic, 1, Range(100, 5));
        await ProduceAsync(producer, topic, 2, Range(200, 5));
        var received = await client.ReceiveManyAsync(10, TimeSpan.FromSeconds(30));
        Assert.Equal(Range(100, 5).Select(Reading), received.Where(r => Index(r) is >= 100 and < 200));
        Assert.Equal(Range(200, 5).Select(Reading), received.Where(r => Index(r) >= 200));

        broker.SetBrokerRoundTrip(2, TimeSpan.Zero);
        await WaitForReadinessAsync(http, HttpStatusCode.OK, "consuming");
        await ProduceAsync(producer, topic, 0, Range(0, 5));
        Assert.Equal(Range(0, 5).Select(Reading), await client.ReceiveManyAsync(5, TimeSpan.FromSeconds(30)));
        await ExpectOnlySentinelsAsync(client, producer, topic, (0, 10), (1, 110), (2, 210));
    }

    [Fact(Timeout = 120_000)]
    public async Task EveryBrokerDownAtStart_LongPartitions_HistoryKeepsTheLastReplayRecordsOfEachAndLaterReadingsAreLive()
    {
        Assert.SkipWhen(TestKafka.IsExternal, "needs the embedded broker to take every broker down");
        using var kafka = new TestKafka();
        var broker = kafka.Embedded!;
        var topic = await kafka.CreateTopicAsync(partitions: 2);
        using var producer = kafka.CreateProducer();
        await ProduceAsync(producer, topic, 0, Range(0, 30));
        await ProduceAsync(producer, topic, 1, Range(100, 30));

        broker.SetAllBrokers(false);
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["Kafka:ReplayRecords"] = "5",
            ["Kafka:PartitionRefreshInterval"] = "00:00:01",
        }).StartAsync(waitForAssignment: false, Ct);
        using var http = new HttpClient { BaseAddress = app.ManagementAddress };
        await using var client = await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => app.Get<Broadcaster>().Count == 1, "the client is registered", Ct);

        // Produced after start while the broker is down: buffered, then below the high watermark
        // the service first sees, and live all the same.
        var buffered = Range(30, 3).Select(i => producer.ProduceAsync(new TopicPartition(topic, 0), Message(i)))
            .Concat(Range(130, 3).Select(i => producer.ProduceAsync(new TopicPartition(topic, 1), Message(i)))).ToList();
        broker.SetAllBrokers(true);
        await Task.WhenAll(buffered);
        await ProduceAsync(producer, topic, 0, Range(33, 2));
        await ProduceAsync(producer, topic, 1, Range(133, 2));

        var received = await client.ReceiveManyAsync(10, TimeSpan.FromSeconds(30));
        Assert.Equal(Range(30, 5).Select(Reading), received.Where(r => Index(r) < 100));
        Assert.Equal(Range(130, 5).Select(Reading), received.Where(r => Index(r) >= 100));

        await WaitForReadinessAsync(http, HttpStatusCode.OK, "consuming");
        var history = app.Get<ReadingHistory>();
        Assert.Equal(20, history.Count);
        await ExpectOnlySentinelsAsync(client, producer, topic, (0, 40), (1, 140));
    }

    [Fact(Timeout = 120_000)]
    public async Task PartitionAssignedLate_LagIsVisibleBeforeTheFirstProbe()
    {
        Assert.SkipWhen(TestKafka.IsExternal, "needs the embedded broker to take every broker down");
        using var kafka = new TestKafka();
        var broker = kafka.Embedded!;
        var topic = await kafka.CreateTopicAsync();
        using var producer = kafka.CreateProducer();
        const int Unread = 7;
        await ProduceAsync(producer, topic, 0, Range(0, Unread));

        // Every broker down at start: the partition is read from its low watermark once reachable.
        broker.SetAllBrokers(false);
        // The consumer is held inside the first reading's hand-off, before its offset is recorded:
        // only the high watermark read at assignment can make the lag visible then.
        using var release = new ManualResetEventSlim();
        using var holding = new ManualResetEventSlim();
        void Hold(ReadingFrame _)
        {
            if (!holding.IsSet)
            {
                holding.Set();
                release.Wait(Ct);
            }
        }

        await using var app = await new EnergyWsApp(
            kafka.BootstrapServers,
            topic,
            new Dictionary<string, string?>
            {
                ["Kafka:PartitionRefreshInterval"] = "00:00:01",
                ["Kafka:ProbeInterval"] = "00:10:00",
                ["Kafka:ReplayRecords"] = $"{Unread}",
            },
            services => services.AddSingleton<IReadingSink>(new FrameSink(Hold))).StartAsync(waitForAssignment: false, Ct);
        try
        {
            broker.SetAllBrokers(true);
            await Task.Run(() => holding.Wait(Ct), Ct);
            var state = app.Get<ConsumerState>();
            Assert.Equal(Unread, Assert.Single(state.Partitions).Value.Lag);
        }
        finally
        {
            // Never leave the consumer thread waiting: the host's stop would wait for it.
            release.Set();
        }
    }

    private static IEnumerable<int> Range(int from, int count) => Enumerable.Range(from, count);

    private static string Reading(int i) => SeedReadings.Json(i, Start);

    private static Message<byte[]?, byte[]?> Message(int i) => new() { Value = Encoding.UTF8.GetBytes(Reading(i)) };

    /// <summary>Which reading a received message is (power_w is 2450.5 + i).</summary>
    private static int Index(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return (int)Math.Round(doc.RootElement.GetProperty("power_w").GetDouble() - 2450.5);
    }

    private static async Task ProduceAsync(IProducer<byte[]?, byte[]?> producer, string topic, int partition, IEnumerable<int> readings)
    {
        foreach (var i in readings)
        {
            await producer.ProduceAsync(new TopicPartition(topic, partition), Message(i), Ct);
        }
    }

    /// <summary>
    /// Produces one last reading to each partition and expects exactly those next: anything
    /// broadcast wrongly for these partitions would arrive before their sentinel.
    /// </summary>
    private static async Task ExpectOnlySentinelsAsync(WsClient client, IProducer<byte[]?, byte[]?> producer, string topic, params (int Partition, int Reading)[] sentinels)
    {
        foreach (var (partition, reading) in sentinels)
        {
            await ProduceAsync(producer, topic, partition, [reading]);
        }

        var received = await client.ReceiveManyAsync(sentinels.Length, TimeSpan.FromSeconds(30));
        Assert.Equal(sentinels.Select(s => Reading(s.Reading)).Order(StringComparer.Ordinal), received.Order(StringComparer.Ordinal));
        Assert.False(client.TryReceive(out var extra), $"unexpected broadcast: {extra}");
    }

    private static async Task WaitForReadinessAsync(HttpClient http, HttpStatusCode status, string description)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        string body = "";
        HttpStatusCode code = 0;
        while (!timeout.IsCancellationRequested)
        {
            using var response = await http.GetAsync("/health/ready", Ct);
            code = response.StatusCode;
            body = await response.Content.ReadAsStringAsync(Ct);
            if (code == status && body.Contains(description, StringComparison.Ordinal))
            {
                return;
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), timeout.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                break;
            }
        }

        Assert.Fail($"/health/ready never answered {status} with \"{description}\"; last: {code} {body}");
    }
}
