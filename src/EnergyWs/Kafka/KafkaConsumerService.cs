using Confluent.Kafka;
using EnergyWs.Readings;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EnergyWs.Kafka;

/// <summary>
/// The one long-lived Kafka consumer. Its blocking loop runs on a dedicated thread and hands each
/// record to the pipeline, which never waits for a client.
/// </summary>
/// <remarks>
/// Every replica reads every partition: partitions are assigned by this service (never by the
/// group coordinator), starting at the live end; partitions that appear later are read from their
/// beginning. Positions are still committed under <see cref="KafkaOptions.GroupId"/> so Kafka tools
/// can show this service's lag.
/// </remarks>
internal sealed class KafkaConsumerService(
    IOptions<KafkaOptions> options,
    ReadingPipeline pipeline,
    ConsumerState state,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<KafkaConsumerService> logger) : IHostedService, IDisposable
{
    private static readonly TimeSpan ConsumeTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ErrorLogInterval = TimeSpan.FromSeconds(10);

    private readonly KafkaOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<int> _assigned = [];
    private readonly Dictionary<int, long> _liveFrom = [];
    private IConsumer<byte[], byte[]>? _consumer;
    private AdminClientConfig? _adminConfig;
    private Thread? _thread;
    private Task? _probe;
    private long _lastErrorLog = long.MinValue;
    private long _suppressedErrors;
    private int _paused;
    private bool _pauseApplied;
    private int _disposed;
    private int _stopped;

    /// <summary>The consumer configuration: low-latency defaults, then every Kafka:Consumer override.</summary>
    internal static ConsumerConfig BuildConfig(KafkaOptions options)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = options.GroupId,
            ClientId = "energy-ws-" + Environment.MachineName,
            // A real broker answers a fetch as soon as data arrives; this caps the wait when it does
            // not (the embedded broker holds empty fetches for the whole wait).
            FetchWaitMaxMs = 10,
            FetchMinBytes = 1,
            SocketNagleDisable = true,
            EnableAutoCommit = true,
            AutoCommitIntervalMs = 5000,
            AutoOffsetReset = AutoOffsetReset.Latest,
            EnablePartitionEof = false,
            // Readings are small; a smaller per-partition prefetch bounds memory on a 128Mi pod.
            QueuedMaxMessagesKbytes = 16 * 1024,
        };

        foreach (var (key, value) in options.Consumer)
        {
            config.Set(key, value);
        }

        return config;
    }

    /// <summary>Consumer properties the admin client (which shares the connection settings) would reject.</summary>
    private static bool ConsumerOnly(string key) =>
        key.StartsWith("fetch.", StringComparison.Ordinal) || key.StartsWith("auto.", StringComparison.Ordinal) ||
        key.StartsWith("enable.", StringComparison.Ordinal) || key.StartsWith("queued.", StringComparison.Ordinal) ||
        key is "group.id" or "group.instance.id" or "isolation.level" or "session.timeout.ms" or "max.poll.interval.ms" or "partition.assignment.strategy" or "check.crcs";

    /// <summary>Stops fetching (tests and operators use it to let lag build up).</summary>
    internal void Pause() => Interlocked.Exchange(ref _paused, 1);

    internal void Resume() => Interlocked.Exchange(ref _paused, 2);

    /// <summary>True once the consumer thread has applied a <see cref="Pause"/> (nothing more is fetched).</summary>
    internal bool IsPaused => Volatile.Read(ref _pauseApplied);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Librdkafka.EnsureLoaded();
        state.Topic = _options.Topic;
        try
        {
            _consumer = new ConsumerBuilder<byte[], byte[]>(BuildConfig(_options))
                .SetErrorHandler((_, error) => OnError(error))
                .SetLogHandler((_, message) => OnLog(message))
                .Build();
            _adminConfig = new AdminClientConfig(BuildConfig(_options).Where(kv => !ConsumerOnly(kv.Key)).ToDictionary());
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new OptionsValidationException(
                KafkaOptions.Section,
                typeof(KafkaOptions),
                [$"Kafka:Consumer: the consumer configuration was refused: {ex.Message}"]);
        }

        Log.ConsumerStarted(logger, _options.Topic, _options.BootstrapServers ?? "", Library.VersionString, Librdkafka.LoadedFrom);
        _thread = new Thread(Run) { IsBackground = true, Name = "kafka-consumer" };
        _thread.Start();
        _probe = Task.Run(ProbeAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Hosts may stop twice (test hosts do); closing a closed librdkafka consumer is a use-after-free.
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        // The loop wakes at least every ConsumeTimeout (a metadata call may hold it a few seconds).
        // Close must not run while Consume is in progress on the loop thread: librdkafka deadlocks.
        var stopped = _thread is not { } thread || await Task.Run(() => thread.Join(TimeSpan.FromSeconds(10)), CancellationToken.None);
        if (_probe is { } probe)
        {
            await probe.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (stopped)
        {
            try
            {
                _consumer?.Close();
            }
            catch (Exception ex) when (ex is KafkaException or ObjectDisposedException)
            {
                // Closing commits offsets; a broker that is gone cannot take them, which is fine.
                // (Confluent may already have released the handle when librdkafka shut it down.)
            }
        }

        Log.ConsumerStopped(logger);
    }

    public void Dispose()
    {
        // The host may dispose twice (test hosts do); Confluent's clients throw on a second Dispose.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Disposed without a stop (a host torn down abruptly): end the loop before freeing its handle.
        _stopping.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(5));
        _probe?.Wait(TimeSpan.FromSeconds(5));
        _consumer?.Dispose();
        _stopping.Dispose();
    }

    private void Run()
    {
        var consumer = _consumer!;
        var token = _stopping.Token;
        var nextRefresh = long.MinValue;
        while (!token.IsCancellationRequested)
        {
            try
            {
                if (nextRefresh == long.MinValue || time.GetTimestamp() >= nextRefresh)
                {
                    var ok = RefreshAssignment(consumer);
                    var wait = ok ? _options.PartitionRefreshInterval : TimeSpan.FromSeconds(1);
                    nextRefresh = time.GetTimestamp() + (long)(wait.TotalSeconds * time.TimestampFrequency);
                }

                ApplyPause(consumer);
                var result = consumer.Consume(ConsumeTimeout);
                if (result is null || result.IsPartitionEOF)
                {
                    continue;
                }

                var message = result.Message;
                var partition = result.Partition.Value;
                var record = new KafkaRecord(
                    result.Topic,
                    partition,
                    result.Offset.Value,
                    message.Key,
                    message.Value,
                    message.Headers,
                    message.Timestamp.Type == TimestampType.NotAvailable ? null : message.Timestamp.UtcDateTime);
                var live = !_liveFrom.TryGetValue(partition, out var from) || result.Offset.Value >= from;
                pipeline.Process(record, live);
                state.Consumed(partition, result.Offset.Value);
            }
            catch (ConsumeException ex) when (!ex.Error.IsFatal)
            {
                OnError(ex.Error);
            }
            catch (ConsumeException ex)
            {
                Fatal(ex.Error);
                return;
            }
            catch (KafkaException ex) when (!ex.Error.IsFatal)
            {
                OnError(ex.Error);
            }
#pragma warning disable CA1031 // The loop must not die silently: log and keep consuming.
            catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
            {
                Log.LoopError(logger, ex);
            }
        }
    }

    private void ApplyPause(IConsumer<byte[], byte[]> consumer)
    {
        switch (Interlocked.Exchange(ref _paused, 0))
        {
            case 1:
                consumer.Pause(consumer.Assignment);
                Volatile.Write(ref _pauseApplied, true);
                break;
            case 2:
                consumer.Resume(consumer.Assignment);
                Volatile.Write(ref _pauseApplied, false);
                break;
        }
    }

    /// <summary>Assigns every partition of the topic not assigned yet. Returns false when metadata was unavailable.</summary>
    private bool RefreshAssignment(IConsumer<byte[], byte[]> consumer)
    {
        List<int> partitions;
        try
        {
            // A short-lived admin client of its own: sharing the consumer's handle (a dependent
            // admin client) makes the consumer's close hang in librdkafka.
            // Its log goes to our logger, not librdkafka's default (raw lines on stderr, outside the
            // JSON log); what it reports (a broker down) the consumer's error handler reports too.
            using var admin = new AdminClientBuilder(_adminConfig)
                .SetLogHandler((_, message) => Log.MetadataClientLog(logger, message.Facility, message.Message))
                .Build();
            var metadata = admin.GetMetadata(_options.Topic, MetadataTimeout);
            var topic = metadata.Topics.FirstOrDefault(t => t.Topic == _options.Topic);
            if (topic is null || topic.Error.IsError || topic.Partitions.Count == 0)
            {
                Log.TopicUnavailable(logger, _options.Topic, topic?.Error.Reason ?? "no metadata");
                state.Error("topic unavailable", brokersDown: false);
                return false;
            }

            partitions = topic.Partitions.Select(p => p.PartitionId).Where(p => !_assigned.Contains(p)).Order().ToList();
        }
        catch (KafkaException ex)
        {
            Log.TopicUnavailable(logger, _options.Topic, ex.Error.Reason);
            state.Error(ex.Error.Reason, brokersDown: false);
            return false;
        }

        if (partitions.Count == 0)
        {
            return true;
        }

        var firstAssignment = _assigned.Count == 0;
        var assignments = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var partition in partitions)
        {
            var tp = new TopicPartition(_options.Topic, partition);
            var offsets = consumer.QueryWatermarkOffsets(tp, MetadataTimeout);
            long start;
            if (firstAssignment)
            {
                // Start at the live end, reading back ReplayRecords below it to rebuild history.
                start = Math.Max(offsets.Low.Value, offsets.High.Value - _options.ReplayRecords);
                _liveFrom[partition] = offsets.High.Value;
            }
            else
            {
                // A partition added while running: everything in it is new.
                start = offsets.Low.Value;
            }

            assignments.Add(new TopicPartitionOffset(tp, new Offset(start)));
            state.AddPartition(partition, start, _liveFrom.GetValueOrDefault(partition, start));
            state.Watermark(partition, offsets.High.Value);
            _assigned.Add(partition);
        }

        consumer.IncrementalAssign(assignments);
        state.Contact();
        if (logger.IsEnabled(LogLevel.Information))
        {
            Log.Assigned(logger, _options.Topic, string.Join(", ", _assigned.Order()));
        }
        return true;
    }

    /// <summary>Asks the broker for high watermarks: the lag metric and the readiness signal.</summary>
    private async Task ProbeAsync()
    {
        using var timer = new PeriodicTimer(_options.ProbeInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                var consumer = _consumer!;
                var all = true;
                foreach (var (partition, _) in state.Partitions)
                {
                    try
                    {
                        var timeout = _options.ProbeInterval < TimeSpan.FromSeconds(2) ? _options.ProbeInterval : TimeSpan.FromSeconds(2);
                        var offsets = consumer.QueryWatermarkOffsets(new TopicPartition(_options.Topic, partition), timeout);
                        state.Watermark(partition, offsets.High.Value);
                    }
                    catch (KafkaException ex)
                    {
                        all = false;
                        state.Error(ex.Error.Reason, brokersDown: true);
                    }
                }

                if (all && state.Assigned)
                {
                    state.Contact();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void OnError(Error error)
    {
        if (error.IsFatal)
        {
            Fatal(error);
            return;
        }

        state.Error(error.Reason, error.Code is ErrorCode.Local_AllBrokersDown or ErrorCode.Local_Transport);
        var now = time.GetTimestamp();
        if (_lastErrorLog != long.MinValue && time.GetElapsedTime(Interlocked.Read(ref _lastErrorLog), now) < ErrorLogInterval)
        {
            Interlocked.Increment(ref _suppressedErrors);
            return;
        }

        Interlocked.Exchange(ref _lastErrorLog, now);
        Log.KafkaError(logger, error.Reason, error.Code, Interlocked.Exchange(ref _suppressedErrors, 0));
    }

    private void OnLog(LogMessage message)
    {
        // librdkafka's own log lines duplicate what the error handler reports; keep only the severe ones.
        if (message.Level <= SyslogLevel.Error)
        {
            OnError(new Error(ErrorCode.Local_Fail, message.Message));
        }
    }

    private void Fatal(Error error)
    {
        // A fatal consumer error cannot be recovered in-process: exit non-zero and let the orchestrator restart us.
        Log.FatalError(logger, error.Reason, error.Code);
        state.Error(error.Reason, brokersDown: true);
        Environment.ExitCode = 1;
        lifetime.StopApplication();
    }
}
