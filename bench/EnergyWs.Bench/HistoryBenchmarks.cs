using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using EnergyWs.History;
using EnergyWs.Readings;
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
        _history = new ReadingHistory(Options.Create(new HistoryOptions()), TimeProvider.System);
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

/// <summary>
/// The consumer's Append latency one call at a time (percentiles, which a mean over a batch hides):
/// a reader that holds a lock the consumer needs shows up as appends that wait a whole scan.
/// <c>EnergyWs.Bench history [--appends N]</c> prints a row alone and a row with a thread replaying
/// the whole history (100,000 readings) in a loop.
/// </summary>
internal static class HistoryContention
{
    public static int Run(string[] args)
    {
        var appends = args.Length >= 2 && args[0] == "--appends" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000_000;
        Console.WriteLine($"Append into a full history of {HistoryOptions.DefaultMaxReadings:N0} readings, {appends:N0} calls timed one by one, {Environment.ProcessorCount} cores");
        Console.WriteLine("| hammer | p50 | p99 | p99.9 | p99.99 | max | full scans |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var hammer in new[] { false, true, false, true })
        {
            Measure(appends, hammer);
        }

        return 0;
    }

    private static void Measure(int appends, bool hammer)
    {
        var history = new ReadingHistory(Options.Create(new HistoryOptions()), TimeProvider.System);
        var reading = new Reading { Timestamp = DateTimeOffset.UtcNow, PowerW = 2450.5, Voltage = 231.2, Current = 10.61, EnergyKwh = 18234.117 };
        var json = ReadingJson.Serialize(reading);
        long sequence = 0;
        for (var i = 0; i < HistoryOptions.DefaultMaxReadings; i++)
        {
            history.Append(new ReadingFrame(++sequence, reading, json, 0, null));
        }

        var stop = false;
        long scans = 0;
        var reader = hammer
            ? new Thread(() =>
            {
                while (!Volatile.Read(ref stop))
                {
                    history.Query(ClientSelection.All, null, null, int.MaxValue);
                    scans++;
                }
            }) { IsBackground = true }
            : null;
        reader?.Start();

        var ticks = new long[appends];
        for (var i = 0; i < appends; i++)
        {
            var frame = new ReadingFrame(++sequence, reading, json, 0, null);
            var start = Stopwatch.GetTimestamp();
            history.Append(frame);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        Volatile.Write(ref stop, true);
        reader?.Join();
        Array.Sort(ticks);
        string At(double q) => Micros(ticks[Math.Min(ticks.Length - 1, (int)(q * ticks.Length))]);
        Console.WriteLine($"| {(hammer ? "full replay in a loop" : "none")} | {At(0.5)} | {At(0.99)} | {At(0.999)} | {At(0.9999)} | {Micros(ticks[^1])} | {scans:N0} |");
    }

    private static string Micros(long ticks) => $"{ticks * 1_000_000.0 / Stopwatch.Frequency:0.00} µs";
}
