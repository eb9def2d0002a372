using System.Diagnostics.Metrics;
using System.Buffers;
using System.Net.WebSockets;
using System.Reflection;
using System.Text;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EnergyWs.Bench;

/// <summary>The consumer thread's work per record: seed-format JSON in, a <see cref="Reading"/> out.</summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private static readonly byte[] Seed = Encoding.UTF8.GetBytes(
        """{"timestamp": "2026-11-27T14:03:21.125Z", "power_w": 2450.5, "voltage": 231.2, "current": 10.61, "energy_kwh": 18234.117}""");

    private readonly RecordDecoder _decoder = new(
        Options.Create(new ReadingsOptions()),
        new ReadingMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>()),
        TimeProvider.System,
        NullLogger<RecordDecoder>.Instance);
    private readonly List<Reading> _output = new(4);
    private readonly KafkaRecord _record = new("homelab.energy", 0, 42, null, Seed, null, DateTimeOffset.UnixEpoch);

    [Benchmark]
    public bool DecodeSeedRecord()
    {
        _output.Clear();
        return _decoder.Decode(_record, _output).Ok;
    }
}

/// <summary>Serializing a reading once for every client (the only per-reading serialization).</summary>
[MemoryDiagnoser]
public class SerializeBenchmarks
{
    private readonly Reading _reading = new()
    {
        Timestamp = new DateTimeOffset(2026, 11, 27, 14, 3, 21, 125, TimeSpan.Zero),
        PowerW = 2450.5,
        Voltage = 231.2,
        Current = 10.61,
        EnergyKwh = 18234.117,
    };

    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    [Benchmark(Baseline = true)]
    public byte[] SerializeToArray() => ReadingJson.Serialize(_reading);

    [Benchmark]
    public int WriteToReusedBuffer()
    {
        _buffer.ResetWrittenCount();
        ReadingJson.Write(_reading, _buffer);
        return _buffer.WrittenCount;
    }
}

/// <summary>
/// One reading fanned out to N real <see cref="ClientConnection"/>s (WebSockets over a sink
/// stream), then taken off every client's queue as its writer would. Allocated bytes per
/// operation must stay flat from 1 to 10,000 clients: the frame is shared, queues are preallocated.
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private readonly Broadcaster _broadcaster = new();
    private readonly List<WebSocket> _sockets = [];
    private ChannelReader<Outbound>[] _queues = [];
    private ReadingFrame _frame = null!;
    private ServiceProvider _services = null!;

    [Params(1, 100, 1_000, 10_000)]
    public int Clients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new StreamingMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var options = new StreamingOptions();
        var queueField = typeof(ClientConnection).GetField("_queue", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("ClientConnection._queue not found");
        _queues = new ChannelReader<Outbound>[Clients];
        for (var i = 0; i < Clients; i++)
        {
            var socket = WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true });
            _sockets.Add(socket);
            var connection = new ClientConnection(socket, ClientSelection.All, $"127.0.0.1:{i}", options, metrics, TimeProvider.System, NullLogger.Instance);
            if (!_broadcaster.TryAdd(connection, int.MaxValue))
            {
                throw new InvalidOperationException("broadcaster refused a client");
            }

            _queues[i] = ((Channel<Outbound>)queueField.GetValue(connection)!).Reader;
        }

        var reading = new Reading { Timestamp = DateTimeOffset.UnixEpoch, PowerW = 2450.5, Voltage = 231.2, Current = 10.61, EnergyKwh = 18234.117 };
        _frame = new ReadingFrame(1, reading, ReadingJson.Serialize(reading), TimeProvider.System.GetTimestamp(), DateTimeOffset.UnixEpoch);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        _services.Dispose();
    }

    [Benchmark]
    public int PublishAndDrain()
    {
        _broadcaster.Publish(_frame);
        var taken = 0;
        foreach (var queue in _queues)
        {
            if (queue.TryRead(out _))
            {
                taken++;
            }
        }

        return taken;
    }
}
