using System.Diagnostics.Metrics;
using System.Buffers;
using System.Net.WebSockets;
using System.Text;
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
/// stream), then taken and written by every client as its writer would. Allocated bytes per
/// operation must stay flat from 1 to 10,000 clients: the frame is shared, the ring preallocated,
/// batch buffers pooled.
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private readonly List<WebSocket> _sockets = [];
    private Broadcaster _broadcaster = null!;
    private ClientConnection[] _connections = [];
    private ReadingFrame[] _frames = [];
    private ServiceProvider _services = null!;
    private int _next;

    [Params(1, 100, 1_000, 10_000)]
    public int Clients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new StreamingMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var options = new StreamingOptions();
        _broadcaster = new Broadcaster(Options.Create(options));
        _connections = new ClientConnection[Clients];
        for (var i = 0; i < Clients; i++)
        {
            var transport = new WebSocketTransport(Stream.Null);
            var socket = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true });
            _sockets.Add(socket);
            _connections[i] = new ClientConnection(socket, transport, ClientSelection.All, $"127.0.0.1:{i}", options, metrics, TimeProvider.System, NullLogger.Instance);
            if (!_broadcaster.TryAdd(_connections[i], int.MaxValue))
            {
                throw new InvalidOperationException("broadcaster refused a client");
            }
        }

        // Distinct frames, as the pipeline publishes them (a frame is published once); more than the ring holds.
        var reading = new Reading { Timestamp = DateTimeOffset.UnixEpoch, PowerW = 2450.5, Voltage = 231.2, Current = 10.61, EnergyKwh = 18234.117 };
        var json = ReadingJson.Serialize(reading);
        _frames = Enumerable.Range(0, 8 * options.MaxFramesBehind)
            .Select(i => new ReadingFrame(i, reading, json, TimeProvider.System.GetTimestamp(), DateTimeOffset.UnixEpoch))
            .ToArray();
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
        _broadcaster.Publish(_frames[_next++ % _frames.Length]);
        var taken = 0;
        foreach (var connection in _connections)
        {
            if (connection.Writer.TakePending(out _))
            {
                // Stream.Null completes synchronously, as a socket write with room in its buffer does.
                var write = connection.Writer.FlushBatchAsync();
                if (!write.IsCompletedSuccessfully)
                {
                    throw new InvalidOperationException("a write to Stream.Null did not complete synchronously");
                }

                // Caught up, as its writer would be: the batch buffer goes back to the pool.
                connection.Writer.ReleaseBatch();

                taken++;
            }
        }

        return taken;
    }
}
