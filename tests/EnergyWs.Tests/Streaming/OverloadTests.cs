using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Streaming;

/// <summary>
/// What a client that falls behind gets: the writer is driven by hand (take what is pending, write
/// it) while readings are published, as when its socket write is pending under overload.
/// </summary>
public sealed class OverloadTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-27T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MetricTotals _totals;
    private long _sequence;

    public OverloadTests() =>
        _totals = new MetricTotals(_services.GetRequiredService<IMeterFactory>(), "energyws_frames_dropped_total", "energyws_frames_sent_total");

    [Fact]
    public async Task ClientBehindByMoreThanMaxFrameAge_GetsEachMetersNewestReadingAndStaleOnesAreCounted()
    {
        var options = new StreamingOptions { MaxFrameAge = TimeSpan.FromSeconds(2) };
        var (broadcaster, client, wire) = Connect(options);

        Publish(broadcaster, "a", 1);
        await SendPendingAsync(client);
        // Its write is pending while meter a reports nine times and meter b once, then 3 s pass.
        for (var i = 2; i <= 10; i++)
        {
            Publish(broadcaster, "a", i);
        }

        Publish(broadcaster, "b", 1);
        _time.Advance(TimeSpan.FromSeconds(3));
        Publish(broadcaster, "a", 11);

        await SendPendingAsync(client);

        // a's 2-10 were superseded and stale; b's only reading is stale but still its newest.
        Assert.Equal(["a 1", "b 1", "a 11"], await ReadAsync(wire));
        Assert.Equal(9, _totals.Total("energyws_frames_dropped_total", "stale"));
        Assert.Equal(3, _totals.Total("energyws_frames_sent_total"));
    }

    [Fact]
    public async Task ClientBehindByMoreThanQueueCapacity_GetsTheNewestCapacityReadingsInOrder()
    {
        var options = new StreamingOptions { MaxFramesBehind = 8 };
        var (broadcaster, client, wire) = Connect(options);

        for (var i = 1; i <= 20; i++)
        {
            Publish(broadcaster, "a", i);
        }

        await SendPendingAsync(client);

        Assert.Equal(Enumerable.Range(13, 8).Select(i => $"a {i}"), await ReadAsync(wire));
        Assert.Equal(12, _totals.Total("energyws_frames_dropped_total", "queue_full"));
    }

    [Fact]
    public async Task ClientOfOneMeterBehindByMoreThanQueueCapacity_IsCountedAsMissingOnlyThatMetersReadings()
    {
        var options = new StreamingOptions { MaxFramesBehind = 8 };
        var broadcaster = new Broadcaster(Options.Create(options));
        var (client, wire) = Add(broadcaster, options, selection: new ClientSelection(new HashSet<string> { "a" }, null));

        // Its write is pending while meters a and b report seven times each, interleaved.
        for (var i = 1; i <= 7; i++)
        {
            Publish(broadcaster, "a", i);
            Publish(broadcaster, "b", i);
        }

        await SendPendingAsync(client);

        // The newest 8 frames hold a 4-7; of the 6 skipped, only a 1-3 were ever meant for it.
        Assert.Equal(["a 4", "a 5", "a 6", "a 7"], await ReadAsync(wire));
        Assert.Equal(3, _totals.Total("energyws_frames_dropped_total", "queue_full"));
    }

    [Fact]
    public async Task ClientThatChangedSelectionWhileFarBehind_IsCountedAsMissingWhatEachSelectionWanted()
    {
        var options = new StreamingOptions { MaxFramesBehind = 8 };
        var broadcaster = new Broadcaster(Options.Create(options));
        var (client, wire) = Add(broadcaster, options, selection: new ClientSelection(new HashSet<string> { "a" }, null));

        // Its write is pending: a 1 and b 1 under its first selection, then it switches to meter b.
        Publish(broadcaster, "a", 1);
        Publish(broadcaster, "b", 1);
        client.Selection = new ClientSelection(new HashSet<string> { "b" }, null);
        Publish(broadcaster, "a", 2);
        Publish(broadcaster, "a", 3);
        for (var i = 2; i <= 9; i++)
        {
            Publish(broadcaster, "b", i);
        }

        await SendPendingAsync(client);

        // Skipped: a 1 (wanted then), b 1 (not yet), a 2 and a 3 (no longer).
        Assert.Equal(Enumerable.Range(2, 8).Select(i => $"b {i}"), await ReadAsync(wire));
        Assert.Equal(1, _totals.Total("energyws_frames_dropped_total", "queue_full"));
    }

    [Fact]
    public async Task ClientAddedFromTheHeadReadBeforeItsUpgrade_GetsTheReadingsPublishedDuringTheHandshake()
    {
        var options = new StreamingOptions();
        var (broadcaster, _, _) = Connect(options);
        Publish(broadcaster, "a", 1);

        // The endpoint reads the head, sends the 101, and only then adds the client.
        var from = broadcaster.Head;
        Publish(broadcaster, "a", 2);
        Publish(broadcaster, "a", 3);
        var (client, wire) = Add(broadcaster, options, from);
        Publish(broadcaster, "a", 4);
        await SendPendingAsync(client);

        Assert.Equal(["a 2", "a 3", "a 4"], await ReadAsync(wire));
    }

    [Fact]
    public async Task ClientWhoseHandshakeOutlastedHalfTheRing_StartsWithTheNextReadingInsteadOfLapped()
    {
        var options = new StreamingOptions { MaxFramesBehind = 8 };
        var (broadcaster, _, _) = Connect(options);

        var from = broadcaster.Head;
        for (var i = 1; i <= 5; i++)
        {
            Publish(broadcaster, "a", i);
        }

        var (client, wire) = Add(broadcaster, options, from, expectStartedAtFrom: false);
        Publish(broadcaster, "a", 6);
        await SendPendingAsync(client);

        // Readings 1-5 are for the endpoint's fresh history snapshot; none is counted as dropped.
        Assert.Equal(["a 6"], await ReadAsync(wire));
        Assert.Equal(0, _totals.Total("energyws_frames_dropped_total"));
    }

    [Fact]
    public async Task ClientKeepingUp_GetsEveryReadingHoweverOld()
    {
        // A reading that waited long is still sent when nothing newer from its meter is behind it.
        var options = new StreamingOptions { MaxFrameAge = TimeSpan.FromSeconds(2) };
        var (broadcaster, client, wire) = Connect(options);

        Publish(broadcaster, "a", 1);
        _time.Advance(TimeSpan.FromSeconds(10));
        await SendPendingAsync(client);

        Assert.Equal(["a 1"], await ReadAsync(wire));
        Assert.Equal(0, _totals.Total("energyws_frames_dropped_total"));
    }

    [Fact]
    public void ClientThatKeepsChangingSelectionWithoutReading_IsClosedInsteadOfQueueingWithoutBound()
    {
        var (_, client, _) = Connect(new StreamingOptions());

        // Its writer never runs (its socket takes nothing): each change and reply waits for it.
        for (var i = 0; i < 64; i++)
        {
            client.Selection = new ClientSelection(new HashSet<string> { $"meter-{i}" }, null);
        }

        Assert.False(client.IsClosing);
        client.Selection = ClientSelection.All;

        Assert.True(client.IsClosing);
        Assert.Equal(64, client.QueuedCount);
        Assert.Equal(1, _totals.Total("energyws_frames_dropped_total", "queue_full"));
    }

    public void Dispose()
    {
        _totals.Dispose();
        _services.Dispose();
    }

    private (Broadcaster Broadcaster, ClientConnection Client, MemoryStream Wire) Connect(StreamingOptions options)
    {
        var broadcaster = new Broadcaster(Options.Create(options));
        var (client, wire) = Add(broadcaster, options);
        return (broadcaster, client, wire);
    }

    private (ClientConnection Client, MemoryStream Wire) Add(
        Broadcaster broadcaster, StreamingOptions options, long? from = null, bool expectStartedAtFrom = true, ClientSelection? selection = null)
    {
        var wire = new MemoryStream();
        var transport = new WebSocketTransport(wire);
        var socket = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true });
        var metrics = new StreamingMetrics(_services.GetRequiredService<IMeterFactory>());
        var client = new ClientConnection(socket, transport, selection ?? ClientSelection.All, "127.0.0.1:1", options, metrics, _time, NullLogger.Instance);
        Assert.True(broadcaster.TryAdd(client, int.MaxValue, from, out var startedAtFrom));
        Assert.Equal(from is not null && expectStartedAtFrom, startedAtFrom);
        return (client, wire);
    }

    private void Publish(Broadcaster broadcaster, string device, int n)
    {
        var reading = new Reading { Timestamp = _time.GetUtcNow(), PowerW = n, Device = device };
        // The payload names the reading, so the test can tell which ones the client got.
        var frame = new ReadingFrame(++_sequence, reading, Encoding.UTF8.GetBytes($"{device} {n}"), _time.GetTimestamp(), _time.GetUtcNow());
        broadcaster.Publish(frame);
    }

    /// <summary>One turn of the connection's writer: take what is pending, write it.</summary>
    private static async Task SendPendingAsync(ClientConnection client)
    {
        Assert.True(client.Writer.TakePending(out var close));
        Assert.False(close);
        await client.Writer.FlushBatchAsync();
    }

    /// <summary>The text messages written so far, as a standard WebSocket client reads them.</summary>
    private static async Task<List<string>> ReadAsync(MemoryStream wire)
    {
        using var reader = WebSocket.CreateFromStream(new MemoryStream(wire.ToArray()), new WebSocketCreationOptions { IsServer = false });
        var messages = new List<string>();
        var buffer = new byte[1024];
        while (true)
        {
            try
            {
                var result = await reader.ReceiveAsync(buffer.AsMemory(), TestContext.Current.CancellationToken);
                messages.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
            }
            catch (WebSocketException)
            {
                // The end of what was written.
                return messages;
            }
        }
    }
}
