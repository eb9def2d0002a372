using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using Confluent.Kafka;
using EnergyWs.Kafka;
using EnergyWs.Readings;

namespace EnergyWs.Bench;

/// <summary>
/// End-to-end load: N WebSocket clients against a running energy-ws, readings produced through
/// Kafka at a fixed rate, every client checked for loss, duplicates, order and latency.
/// </summary>
/// <remarks>
/// Each produced reading carries its sequence number in <c>energy_kwh</c> and its send time, in
/// microseconds on this process's monotonic clock, in <c>current</c>: both are plain numbers the
/// seed format passes through unchanged, so latency is exact without clock sync or ms rounding.
/// </remarks>
public static class LoadGenerator
{
    public static async Task<int> RunAsync(LoadSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        Librdkafka.EnsureLoaded();
        var clock = Stopwatch.StartNew();
        var expected = s.Idle ? 0 : (int)Math.Ceiling(s.Rate * s.Duration.TotalSeconds);
        var histogram = new LatencyHistogram();
        var server = s.ServerPid is { } pid ? new ServerProcess(pid) : null;
        using var producer = s.Idle ? null : await WarmProducerAsync(s);
        var rssIdle = server?.RssKb() ?? 0;

        var nextSource = 0;
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                // Spread clients over 127.0.0.x so 50k connections do not exhaust one address's ephemeral ports.
                var n = Interlocked.Increment(ref nextSource);
                var local = new IPAddress([127, 0, 0, (byte)(1 + (n % s.SourceAddresses))]);
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    TryBindAddressNoPort(socket);
                    socket.Bind(new IPEndPoint(local, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var invoker = new HttpMessageInvoker(handler);

        var clients = new BenchClient?[s.Clients];
        int ok = 0, failed = 0;
        string? firstError = null;
        var connectStart = clock.Elapsed;
        await Parallel.ForEachAsync(
            Enumerable.Range(0, s.Clients),
            new ParallelOptions { MaxDegreeOfParallelism = s.ConnectConcurrency },
            async (i, ct) =>
            {
                var client = new BenchClient(expected, histogram, clock);
                try
                {
                    await client.ConnectAsync(s.Url, invoker, s.Token, ct);

                    // Read at once: a client that reads nothing cannot answer the server's pings.
                    client.Start();
                    clients[i] = client;
                    Interlocked.Increment(ref ok);
                }
                catch (Exception ex) when (ex is WebSocketException or HttpRequestException or OperationCanceledException or IOException or SocketException)
                {
                    Interlocked.CompareExchange(ref firstError, ex.GetBaseException().Message, null);
                    client.Dispose();
                    Interlocked.Increment(ref failed);
                }
            });
        var connectSeconds = (clock.Elapsed - connectStart).TotalSeconds;
        var connected = clients.OfType<BenchClient>().ToArray();

        // The server registers a client just after the upgrade; give the last ones time to land.
        await Task.Delay(TimeSpan.FromSeconds(1));
        if (!s.Idle && s.Warmup > TimeSpan.Zero)
        {
            // Negative sequence numbers: clients skip them. Then a moment for the last ones to drain.
            var warmRate = Math.Min(s.Rate, 200);
            await ProduceAsync(producer!, s with { Rate = warmRate }, (int)(warmRate * s.Warmup.TotalSeconds), clock, sign: -1);
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        var rssConnected = server?.RssKb() ?? 0;
        using var sampler = new CancellationTokenSource();
        var rssMaxTask = server is null ? Task.FromResult(0L) : server.SampleMaxRssAsync(sampler.Token);

        var cpuStart = server?.CpuSeconds() ?? 0;
        var runStart = clock.Elapsed;
        long produced = 0;
        if (s.Idle)
        {
            await Task.Delay(s.Duration);
        }
        else
        {
            produced = await ProduceAsync(producer!, s, expected, clock);
        }

        var runSeconds = (clock.Elapsed - runStart).TotalSeconds;
        var cpuSeconds = (server?.CpuSeconds() ?? 0) - cpuStart;
        var rssEnd = server?.RssKb() ?? 0;

        // Wait for stragglers: until every client has the last reading, progress stops, or Settle runs out.
        var settleEnd = clock.Elapsed + s.Settle;
        long lastTotal = -1;
        var stableSince = clock.Elapsed;
        while (!s.Idle && clock.Elapsed < settleEnd)
        {
            var total = connected.Sum(c => c.Delivered);
            if (connected.All(c => c.MaxSequence >= produced))
            {
                break;
            }

            if (total != lastTotal)
            {
                lastTotal = total;
                stableSince = clock.Elapsed;
            }
            else if (clock.Elapsed - stableSince > TimeSpan.FromSeconds(1))
            {
                break;
            }

            await Task.Delay(50);
        }

        await sampler.CancelAsync();
        var rssMax = await rssMaxTask;
        var deliveredSeconds = (clock.Elapsed - runStart).TotalSeconds;

        var delivered = connected.Select(c => c.Unique).Order().ToArray();
        var totalDelivered = connected.Sum(c => c.Delivered);
        var result = new Dictionary<string, object?>
        {
            ["label"] = s.Label,
            ["clients"] = s.Clients,
            ["rate"] = s.Rate,
            ["duration_s"] = Math.Round(runSeconds, 2),
            ["connections_ok"] = ok,
            ["connections_failed"] = failed,
            ["connect_error"] = firstError,
            ["connect_s"] = Math.Round(connectSeconds, 2),
            ["disconnected"] = connected.Count(c => c.Ended),
            ["produced"] = produced,
            ["delivered_min"] = delivered.Length > 0 ? delivered[0] : 0,
            ["delivered_median"] = delivered.Length > 0 ? delivered[delivered.Length / 2] : 0,
            ["lost"] = connected.Sum(c => Math.Max(0, produced - c.Unique)),
            ["duplicated"] = connected.Sum(c => c.Delivered - c.Unique),
            ["out_of_order"] = connected.Sum(c => c.OutOfOrder),
            ["last_received_by"] = connected.Count(c => produced > 0 && c.MaxSequence == produced),
            ["latency_ms"] = new Dictionary<string, double>
            {
                ["p50"] = histogram.PercentileMs(0.50),
                ["p90"] = histogram.PercentileMs(0.90),
                ["p99"] = histogram.PercentileMs(0.99),
                ["max"] = Math.Round(connected.Select(c => c.MaxLatencyMicros).DefaultIfEmpty(0).Max() / 1000.0, 2),
            },
            ["frames_per_s"] = Math.Round(totalDelivered / Math.Max(deliveredSeconds, 0.001)),
            ["server_rss_idle_mb"] = Math.Round(rssIdle / 1024.0, 1),
            ["server_rss_connected_mb"] = Math.Round(rssConnected / 1024.0, 1),
            ["server_rss_end_mb"] = Math.Round(rssEnd / 1024.0, 1),
            ["server_rss_max_mb"] = Math.Round(Math.Max(rssMax, rssEnd) / 1024.0, 1),
            ["rss_per_connection_kb"] = ok > 0 ? Math.Round((rssConnected - rssIdle) / (double)ok, 2) : 0,
            ["server_cpu_s"] = Math.Round(cpuSeconds, 2),
            ["server_cpu_pct_of_core"] = Math.Round(100 * cpuSeconds / Math.Max(runSeconds, 0.001), 1),
        };
        Console.WriteLine(JsonSerializer.Serialize(result));

        foreach (var client in connected)
        {
            client.Dispose();
        }

        return 0;
    }

    /// <summary>
    /// A producer that has already delivered one record (sequence 0, before any client connects),
    /// so its broker connection and metadata lookup are not charged to the first measured reading.
    /// </summary>
    private static async Task<IProducer<Null, byte[]>> WarmProducerAsync(LoadSettings s)
    {
        var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig
        {
            BootstrapServers = s.Bootstrap,
            LingerMs = 0,
            Acks = Acks.Leader,
            SocketNagleDisable = true,
            QueueBufferingMaxMessages = 1_000_000,
        }).Build();
        var warm = new Reading { Timestamp = RecordDecoder.TruncateToMilliseconds(DateTimeOffset.UtcNow), PowerW = 0, EnergyKwh = 0 };
        await producer.ProduceAsync(s.Topic, new Message<Null, byte[]> { Value = ReadingJson.Serialize(warm) });
        return producer;
    }

    private static async Task<long> ProduceAsync(IProducer<Null, byte[]> producer, LoadSettings s, int count, Stopwatch clock, int sign = 1)
    {
        long sequence = 0;
        var start = clock.Elapsed;
        while (sequence < count)
        {
            var due = Math.Min(count, (long)Math.Floor((clock.Elapsed - start).TotalSeconds * s.Rate) + 1);
            while (sequence < due)
            {
                sequence++;
                var now = DateTimeOffset.UtcNow;
                var reading = new Reading
                {
                    Timestamp = RecordDecoder.TruncateToMilliseconds(now),
                    PowerW = 1000,
                    Voltage = 230,
                    Current = clock.Elapsed.Ticks / 10,
                    EnergyKwh = sign * sequence,
                };
                producer.Produce(s.Topic, new Message<Null, byte[]> { Value = ReadingJson.Serialize(reading), Timestamp = new Timestamp(now) });
            }

            await Task.Delay(1);
        }

        producer.Flush(TimeSpan.FromSeconds(10));
        return sequence;
    }

    /// <summary>Lets the kernel choose the source port at connect time, per 4-tuple (IP_BIND_ADDRESS_NO_PORT).</summary>
    private static void TryBindAddressNoPort(Socket socket)
    {
        try
        {
            socket.SetRawSocketOption(0 /* SOL_IP */, 24 /* IP_BIND_ADDRESS_NO_PORT */, BitConverter.GetBytes(1));
        }
        catch (SocketException)
        {
        }
    }
}

/// <summary>One WebSocket client and what it received.</summary>
internal sealed class BenchClient(int expected, LatencyHistogram histogram, Stopwatch clock) : IDisposable
{
    private readonly ClientWebSocket _socket = new();
    private ulong[] _seen = new ulong[(expected / 64) + 2];
    private long _delivered;
    private long _maxSequence;
    private Task? _loop;

    public long Delivered => Volatile.Read(ref _delivered);

    public long Unique { get; private set; }

    public long MaxSequence => Volatile.Read(ref _maxSequence);

    public long OutOfOrder { get; private set; }

    public long MaxLatencyMicros { get; private set; }

    public bool Ended => _loop is { IsCompleted: true };

    public async Task ConnectAsync(Uri url, HttpMessageInvoker invoker, string? token, CancellationToken cancellationToken)
    {
        // Keep-alive pings from 50k clients would be load the benchmark did not ask for.
        _socket.Options.KeepAliveInterval = TimeSpan.Zero;
        if (token is not null)
        {
            _socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await _socket.ConnectAsync(url, invoker, timeout.Token);
    }

    public void Start() => _loop = Task.Run(ReceiveLoopAsync);

    public void Dispose() => _socket.Dispose();

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[1024];
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }

                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                OnMessage(buffer.AsSpan(0, length));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private void OnMessage(ReadOnlySpan<byte> json)
    {
        var now = clock.Elapsed.Ticks / 10;
        // At a million frames a second the load tool's parsing is a third of its CPU, which it
        // shares with the server; the two numbers it needs are found directly, falling back to
        // a full JSON read for any frame the shortcut does not recognise.
        if (!(TryFindInteger(json, "\"energy_kwh\":"u8, out var s) && TryFindInteger(json, "\"current\":"u8, out var t)) &&
            !TryReadJson(json, out s, out t))
        {
            return;
        }

        var sequence = s;
        if (sequence < 0)
        {
            // A warm-up reading.
            return;
        }

        var latency = now - t;
        histogram.Record(latency);
        if (latency > MaxLatencyMicros)
        {
            MaxLatencyMicros = latency;
        }

        if (sequence < MaxSequence)
        {
            OutOfOrder++;
        }
        else
        {
            Volatile.Write(ref _maxSequence, sequence);
        }

        var word = (int)(sequence / 64);
        if (word >= _seen.Length)
        {
            Array.Resize(ref _seen, word * 2);
        }

        var bit = 1UL << (int)(sequence % 64);
        if ((_seen[word] & bit) == 0)
        {
            _seen[word] |= bit;
            Unique++;
        }

        Interlocked.Increment(ref _delivered);
    }

    /// <summary>The integer after <paramref name="name"/> (e.g. <c>"current":</c>); false if absent or not a plain integer.</summary>
    private static bool TryFindInteger(ReadOnlySpan<byte> json, ReadOnlySpan<byte> name, out long value)
    {
        value = 0;
        var at = json.IndexOf(name);
        if (at < 0)
        {
            return false;
        }

        var rest = json[(at + name.Length)..];
        return System.Buffers.Text.Utf8Parser.TryParse(rest, out value, out var consumed) &&
               consumed < rest.Length && rest[consumed] is (byte)',' or (byte)'}';
    }

    private static bool TryReadJson(ReadOnlySpan<byte> json, out long sequence, out long sent)
    {
        sequence = sent = 0;
        double? seq = null, time = null;
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName)
                {
                    continue;
                }

                var isSeq = reader.ValueTextEquals("energy_kwh"u8);
                var isSent = !isSeq && reader.ValueTextEquals("current"u8);
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && (isSeq || isSent))
                {
                    if (isSeq)
                    {
                        seq = reader.GetDouble();
                    }
                    else
                    {
                        time = reader.GetDouble();
                    }
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        if (seq is not { } s || time is not { } t)
        {
            return false;
        }

        sequence = (long)s;
        sent = (long)t;
        return true;
    }
}

/// <summary>Latencies in 0.1 ms buckets up to 60 s; lock-free, shared by every client.</summary>
internal sealed class LatencyHistogram
{
    private const int MicrosPerBucket = 100;
    private readonly long[] _buckets = new long[600_000];

    // One interlocked add per sample: a shared total as well would be a second contended line.
    public void Record(long micros)
    {
        var index = (int)Math.Clamp(micros / MicrosPerBucket, 0, _buckets.Length - 1);
        Interlocked.Increment(ref _buckets[index]);
    }

    public double PercentileMs(double p)
    {
        // A late frame may still be recording: buckets only grow, so the scan still reaches the target.
        var total = _buckets.Sum();

        if (total == 0)
        {
            return 0;
        }

        var target = (long)Math.Ceiling(total * p);
        long seen = 0;
        for (var i = 0; i < _buckets.Length; i++)
        {
            seen += _buckets[i];
            if (seen >= target)
            {
                // Upper edge of the bucket: never reports better than measured.
                return Math.Round((i + 1) * MicrosPerBucket / 1000.0, 1);
            }
        }

        return _buckets.Length * MicrosPerBucket / 1000.0;
    }
}

/// <summary>Reads the server's RSS and CPU time from /proc.</summary>
internal sealed class ServerProcess(int pid)
{
    // USER_HZ: 100 on every Linux the service targets.
    private const double TicksPerSecond = 100;

    public long RssKb()
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

        // After "pid (comm) ": state is field 0, utime 11, stime 12.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    public async Task<long> SampleMaxRssAsync(CancellationToken cancellationToken)
    {
        long max = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                max = Math.Max(max, RssKb());
                await Task.Delay(250, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }

        return max;
    }
}
