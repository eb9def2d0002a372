using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using EnergyWs.History;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EnergyWs.Bench;

/// <summary>
/// The consumer's <see cref="ReadingHistory.Append"/> into a full history (100,000 readings), alone
/// and while another thread scans the whole history without pause, as clients replaying a day or
/// hammering GET /api/readings do. The consumer must not wait for readers: the two rows should
/// differ by what sharing two cores costs, not by the length of a scan.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TailColumns))]
public class HistoryAppendBenchmarks
{
    private const int Appends = 1_000;

    private readonly Reading _reading = new() { Timestamp = DateTimeOffset.UtcNow, PowerW = 2450.5, Voltage = 231.2, Current = 10.61, EnergyKwh = 18234.117 };
    private ServiceProvider _services = null!;
    private ReadingHistory _history = null!;
    private byte[] _json = [];
    private Thread? _hammer;
    private volatile bool _stop;
    private long _sequence;

    /// <summary>Whether a reader scans the whole history in a loop meanwhile.</summary>
    [Params(false, true)]
    public bool QueryHammer { get; set; }

    /// <summary>Full scans the hammer finished (printed at cleanup, to show it really ran).</summary>
    public long Scans { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new ReadingMetrics(_services.GetRequiredService<IMeterFactory>());
        var pipeline = new ReadingPipeline(
            new RecordDecoder(Options.Create(new ReadingsOptions()), metrics, TimeProvider.System, NullLogger<RecordDecoder>.Instance),
            new Broadcaster(Options.Create(new StreamingOptions())),
            metrics,
            TimeProvider.System,
            NullLogger<ReadingPipeline>.Instance);
        _history = new ReadingHistory(pipeline, Options.Create(new HistoryOptions()), TimeProvider.System);
        _json = ReadingJson.Serialize(_reading);
        for (var i = 0; i < HistoryOptions.DefaultMaxReadings; i++)
        {
            _history.Append(new ReadingFrame(++_sequence, _reading, _json, 0, null));
        }

        if (QueryHammer)
        {
            _hammer = new Thread(() =>
            {
                while (!_stop)
                {
                    // A day's replay: every frame, no cap.
                    _history.Query(ClientSelection.All, null, null, int.MaxValue);
                    Scans++;
                }
            }) { IsBackground = true, Name = "history query hammer" };
            _hammer.Start();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _hammer?.Join();
        if (QueryHammer)
        {
            Console.WriteLine($"// history query hammer: {Scans} full scans");
        }

        _services.Dispose();
    }

    /// <summary>One reading appended by the consumer (the ring is full: the oldest goes).</summary>
    [Benchmark(OperationsPerInvoke = Appends)]
    public void Append()
    {
        for (var i = 0; i < Appends; i++)
        {
            _history.Append(new ReadingFrame(++_sequence, _reading, _json, 0, null));
        }
    }

    private sealed class TailColumns : ManualConfig
    {
        public TailColumns() => AddColumn(StatisticColumn.P95, StatisticColumn.Max);
    }
}
