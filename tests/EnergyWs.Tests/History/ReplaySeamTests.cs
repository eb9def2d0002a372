using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EnergyWs.History;
using EnergyWs.Kafka;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.History;

/// <summary>
/// The seam between a client's replay and its live stream, driven step by step the way the /ws
/// endpoint runs it (head read, handshake, registration, snapshot), with readings published
/// between every step: each reading a client selected reaches it exactly once.
/// </summary>
public sealed class ReplaySeamTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(Now);
    private readonly StreamingOptions _options = new();
    private readonly Broadcaster _broadcaster;
    private readonly ReadingPipeline _pipeline;
    private readonly ReadingHistory _history;
    private readonly List<ReadingFrame> _published = [];
    private Action? _onNextAppend;
    private long _offset;
    private int _power;

    public ReplaySeamTests()
    {
        _broadcaster = new Broadcaster(Options.Create(_options));
        var metrics = new ReadingMetrics(_services.GetRequiredService<IMeterFactory>());
        _history = new ReadingHistory(Options.Create(new HistoryOptions { Window = TimeSpan.FromDays(1), MaxReadings = 100_000 }), _time);

        // A sink runs once a frame is in the history and before it is published.
        var sink = new FrameSink(frame =>
        {
            _published.Add(frame);
            if (_onNextAppend is { } action)
            {
                _onNextAppend = null;
                action();
            }
        });
        _pipeline = new ReadingPipeline(
            StreamCatalog.EnergyOnly("t"),
            new RecordDecoder(Options.Create(new ReadingsOptions()), metrics, _time, NullLogger<RecordDecoder>.Instance),
            new JsonStreamDecoder(Options.Create(new ReadingsOptions()), _time),
            _history,
            _broadcaster,
            [sink],
            metrics,
            _time,
            NullLogger<ReadingPipeline>.Instance);
    }

    [Fact]
    public async Task Since_OutOfOrderReadingsDuringHandshakes_EachArrivesOnceReplayedThenLiveInOrder()
    {
        var random = new Random(20260301);
        var since = Now.AddMinutes(-15);
        PublishMixed(random, 40);

        var clients = new List<(ClientConnection Client, MemoryStream Wire, long From)>();
        for (var k = 0; k < 12; k++)
        {
            var from = _broadcaster.Head;
            PublishMixed(random, random.Next(0, 4));   // during the handshake
            var (client, wire) = Register(from, ClientSelection.All);
            PublishMixed(random, random.Next(0, 3));   // between registration and snapshot

            var start = () => WebSocketEndpoint.StartReplay(_history, client, ClientSelection.All, new ReplayRequest(since), lease: null);
            if (k % 2 == 0)
            {
                start();
            }
            else
            {
                // The snapshot falls between a frame's history append and its publication.
                _onNextAppend = start;
                PublishMixed(random, 1);
            }

            PublishMixed(random, random.Next(0, 3));
            clients.Add((client, wire, from));
        }

        PublishMixed(random, 5);
        foreach (var (client, wire, from) in clients)
        {
            // The replay: what was published before the client's start and is after `since`. Then
            // everything published from its start on, whatever its timestamp.
            var replayed = _published.Where(f => f.RingIndex < from && f.Reading.Timestamp > since);
            var live = _published.Where(f => f.RingIndex >= from).ToList();
            var got = await DrainAsync(client, wire);

            // Power values grow with the sequence: sorted, the two lists match when each reading
            // arrived exactly once. A frame caught between history and publication may come with
            // the replay instead of live, so the order is checked only after the snapshot.
            Assert.Equal([.. replayed.Concat(live).Select(f => f.Reading.PowerW!.Value).Order()], got.Order());
            Assert.Equal([.. live.TakeLast(5).Select(f => f.Reading.PowerW!.Value)], got.TakeLast(5));
        }
    }

    [Fact]
    public async Task Latest_NewDeviceOnceLatestMapIsFullAndRepeatsDuringHandshake_EachArrivesOnce()
    {
        for (var i = 0; i < MeterLimits.MaxMeters; i++)
        {
            Publish($"d{i}", Now.AddMinutes(-5));
        }

        var selection = new ClientSelection(new HashSet<string> { "d0", "d1", "d2", "new" }, null);
        var from = _broadcaster.Head;
        Publish("new", Now.AddMinutes(-1));     // no room in the latest map
        Publish("d1", Now.AddMinutes(-2));
        Publish("d1", Now.AddMinutes(-1));      // supersedes the one before, both during the handshake
        var (client, wire) = Register(from, selection);
        Publish("d0", Now.AddSeconds(-30));
        WebSocketEndpoint.StartReplay(_history, client, selection, ReplayRequest.LastValues, lease: null);
        Publish("new", Now);

        // d2's latest is replayed; d0's and d1's newest were published after the client's start, so
        // they come live, in order, after every earlier one of theirs.
        double[] expected = [.. _published.Where(f => f.Reading.Device == "d2")
            .Concat(_published.Where(f => f.RingIndex >= from && selection.Accepts(f.Reading)))
            .Select(f => f.Reading.PowerW!.Value)];
        Assert.Equal(expected, await DrainAsync(client, wire));
    }

    public void Dispose() => _services.Dispose();

    /// <summary>Readings with timestamps anywhere in the last half hour, so some are older than <c>since</c>.</summary>
    private void PublishMixed(Random random, int count)
    {
        for (var i = 0; i < count; i++)
        {
            Publish($"m{random.Next(3)}", Now.AddSeconds(-random.Next(30 * 60)));
        }
    }

    private void Publish(string device, DateTimeOffset timestamp)
    {
        var json = string.Create(CultureInfo.InvariantCulture, $"{{\"timestamp\":\"{timestamp.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}\",\"device\":\"{device}\",\"power_w\":{++_power}}}");
        _pipeline.Process(new KafkaRecord("t", 0, _offset++, null, Encoding.UTF8.GetBytes(json), null, null));
    }

    private (ClientConnection Client, MemoryStream Wire) Register(long from, ClientSelection selection)
    {
        var wire = new MemoryStream();
        var transport = new WebSocketTransport(wire);
        var socket = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true });
        var metrics = new StreamingMetrics(_services.GetRequiredService<IMeterFactory>());
        var client = new ClientConnection(socket, transport, selection, "127.0.0.1:1", _options, metrics, _time, NullLogger.Instance);
        Assert.True(_broadcaster.TryAdd(client, int.MaxValue, from, out var startedAtFrom));
        Assert.True(startedAtFrom);
        return (client, wire);
    }

    /// <summary>What the writer sends: the replay, then everything pending; the readings' power values in order.</summary>
    private static async Task<List<double>> DrainAsync(ClientConnection client, MemoryStream wire)
    {
        await client.Writer.WriteReplayAsync();
        while (client.Writer.TakePending(out _))
        {
            await client.Writer.FlushBatchAsync();
        }

        using var reader = WebSocket.CreateFromStream(new MemoryStream(wire.ToArray()), new WebSocketCreationOptions { IsServer = false });
        var powers = new List<double>();
        var buffer = new byte[4096];
        while (true)
        {
            try
            {
                var result = await reader.ReceiveAsync(buffer.AsMemory(), TestContext.Current.CancellationToken);
                using var json = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
                powers.Add(json.RootElement.GetProperty("power_w").GetDouble());
            }
            catch (WebSocketException)
            {
                // The end of what was written.
                return powers;
            }
        }
    }
}
