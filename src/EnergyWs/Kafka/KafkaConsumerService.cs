using System.Collections.Concurrent;
using Confluent.Kafka;
using EnergyWs.Readings;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EnergyWs.Kafka;

/// <summary>
/// The one long-lived Kafka consumer, for every topic in <see cref="KafkaTopics"/>. Its blocking
/// loop runs on a dedicated thread and hands each record to the pipeline, which never waits for a client.
/// </summary>
/// <remarks>
/// Every replica reads every partition of every topic: partitions are assigned by this service (never by the
/// group coordinator), each once and only after its watermarks were read. The partitions' watermarks
/// are queried side by side, so one whose leader cannot be reached delays no other. Partitions of
/// a topic's first metadata seen start at the live end; partitions that appear later are read from their
/// beginning. A partition whose leader cannot be reached is retried on its own (the others are
/// read meanwhile) and keeps the rule it was discovered under. A topic that does not exist delays no
/// other topic: its partitions are assigned once it has some. Positions are still committed under
/// <see cref="KafkaOptions.GroupId"/> so Kafka tools can show this service's lag.
/// </remarks>
internal sealed class KafkaConsumerService(
    IOptions<KafkaOptions> options,
    KafkaTopics topics,
    ReadingPipeline pipeline,
    ConsumerState state,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<KafkaConsumerService> logger) : IHostedService, IDisposable
{
    private static readonly TimeSpan ConsumeTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(5);

    // Each query blocks a thread while it waits for a leader; this bounds those threads.
    private const int QueryParallelism = 8;

    // A partition known at start whose watermarks arrive later than this after start takes the
    // late rule: records produced in between sit below its high watermark and are still live.
    private static readonly TimeSpan LateAfter = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);

    private readonly KafkaOptions _options = options.Value;

    // Unset only in a host without a history (AddHistory resolves it): nothing to rebuild.
    private readonly long _replayRecords = options.Value.ReplayRecords ?? 0;
    private readonly CancellationTokenSource _stopping = new();

    // The refresh task decides what to assign; the consumer thread assigns it. Invariant: a
    // partition is in _requested from the moment its assignment is queued until the end of the
    // process (removed only when IncrementalAssign refused it), so each is assigned exactly once.
    private readonly ConcurrentDictionary<PartitionKey, byte> _requested = new();
    private readonly ConcurrentQueue<PartitionRule> _toAssign = new();

    // Refresh task only (written before its queries start, read by them): the partitions of each
    // topic's first metadata seen (the start-up rule applies to them however late their leader
    // answers), the topics listed at least once, and those whose listing failed before that.
    private readonly HashSet<PartitionKey> _knownAtStart = [];
    private readonly HashSet<string> _metadataSeen = new(StringComparer.Ordinal);
    private readonly HashSet<string> _refreshFailedBeforeMetadata = new(StringComparer.Ordinal);
    // At most one 1009 line per refresh interval.
    private readonly LogThrottle _queryFailures = new(time, options.Value.PartitionRefreshInterval);

    // Partitions whose watermark query or assignment failed once: written by the refresh task's
    // queries and the consumer thread, so their retry applies the late rule.
    private readonly ConcurrentDictionary<PartitionKey, byte> _queryFailed = new();

    // Consumer thread only: how records of each partition are classified (live or history).
    private readonly Dictionary<PartitionKey, PartitionRule> _liveRules = [];
    private IConsumer<byte[], byte[]>? _consumer;
    private AdminClientConfig? _adminConfig;
    private DateTimeOffset _startedAt;
    private Thread? _thread;
    private Task? _probe;
    private Task? _refresh;
    // At most one line per interval for broker errors (any librdkafka thread) and records of
    // unassigned partitions (the consumer thread); the rest are counted into the next.
    private readonly LogThrottle _errors = new(time, LogThrottle.DefaultInterval);
    private readonly LogThrottle _unruled = new(time, LogThrottle.DefaultInterval);
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

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Librdkafka.EnsureLoaded();
        try
        {
            _consumer = new ConsumerBuilder<byte[], byte[]>(BuildConfig(_options))
                .SetErrorHandler((_, error) => OnError(error))
                .SetLogHandler((_, message) => OnLog(message))
                .Build();
            _adminConfig = new AdminClientConfig(BuildConfig(_options).Where(kv => !ConsumerOnly(kv.Key)).ToDictionary())
            {
                // Asking for a topic's metadata must not create it: librdkafka's admin client (a
                // producer inside) allows that by default, and a broker with auto-creation on (Kafka's
                // default) then makes a mistyped or not-yet-created topic with the broker's partition count.
                AllowAutoCreateTopics = false,
            };
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new OptionsValidationException(
                KafkaOptions.Section,
                typeof(KafkaOptions),
                [$"Kafka:Consumer: the consumer configuration was refused: {ex.Message}"]);
        }

        Log.ConsumerStarted(logger, topics.ToString(), _options.BootstrapServers ?? "", Library.VersionString, Librdkafka.LoadedFrom);
        _startedAt = time.GetUtcNow();
        _thread = new Thread(Run) { IsBackground = true, Name = "kafka-consumer" };
        _thread.Start();
        _refresh = Task.Run(RefreshLoopAsync, CancellationToken.None);
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
        // The loop wakes at least every ConsumeTimeout.
        // Close must not run while Consume is in progress on the loop thread: librdkafka deadlocks.
        var stopped = _thread is not { } thread || await Task.Run(() => thread.Join(TimeSpan.FromSeconds(10)), CancellationToken.None);
        if (_probe is { } probe)
        {
            await probe.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        // A metadata or watermark call in progress may hold it up to MetadataTimeout; the watermark
        // queries run side by side, so that is one timeout whatever the number of partitions.
        if (_refresh is { } refresh)
        {
            await refresh.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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
        _refresh?.Wait(TimeSpan.FromSeconds(10));
        _consumer?.Dispose();
        _stopping.Dispose();
    }

    private void Run()
    {
        var consumer = _consumer!;
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                AssignQueued(consumer);
                var result = consumer.Consume(ConsumeTimeout);
                if (result is null || result.IsPartitionEOF)
                {
                    continue;
                }

                var message = result.Message;
                var partition = new PartitionKey(result.Topic, result.Partition.Value);
                var record = new KafkaRecord(
                    partition.Topic,
                    partition.Partition,
                    result.Offset.Value,
                    message.Key,
                    message.Value,
                    message.Headers,
                    message.Timestamp.Type == TimestampType.NotAvailable ? null : message.Timestamp.UtcDateTime);
                if (!_liveRules.TryGetValue(partition, out var rule))
                {
                    // Assigned in librdkafka although its assignment reported a failure: without a
                    // rule it is not known whether the record is live, so it is not broadcast.
                    Unruled(partition);
                    continue;
                }

                if (rule.Route(record, message.Timestamp, pipeline, consumer) is { } seekError)
                {
                    OnError(seekError);
                }

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

    /// <summary>
    /// Re-reads the partition list until the host stops: at once, then every
    /// <see cref="KafkaOptions.PartitionRefreshInterval"/>; after a failure again in 1 s, doubling up
    /// to that interval. It runs beside the consumer thread, so a watermark query that waits for a
    /// leader that is down never holds back the partitions already being read.
    /// </summary>
    private async Task RefreshLoopAsync()
    {
        var token = _stopping.Token;
        var interval = _options.PartitionRefreshInterval;
        var retry = FirstRetry < interval ? FirstRetry : interval;
        while (!token.IsCancellationRequested)
        {
            bool complete;
            try
            {
                complete = await RefreshAsync(_consumer!);
            }
#pragma warning disable CA1031 // The refresh must not die silently: log and retry.
            catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
            {
                Log.LoopError(logger, ex);
                complete = false;
            }

            TimeSpan wait;
            if (complete)
            {
                wait = interval;
                retry = FirstRetry < interval ? FirstRetry : interval;
            }
            else
            {
                wait = retry;
                retry = retry * 2 < interval ? retry * 2 : interval;
            }

            try
            {
                await Task.Delay(wait, time, token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Queues every partition of every topic not assigned yet whose watermarks could be read. A
    /// partition whose query fails is left exactly as it was (unassigned, waiting) for the next try.
    /// Returns false when any topic's metadata or any partition's watermarks were unavailable.
    /// </summary>
    private async Task<bool> RefreshAsync(IConsumer<byte[], byte[]> consumer)
    {
        var pending = new List<PartitionKey>();
        var complete = true;
        // A short-lived admin client of its own: sharing the consumer's handle (a dependent
        // admin client) makes the consumer's close hang in librdkafka.
        // Its log goes to our logger, not librdkafka's default (raw lines on stderr, outside the
        // JSON log); what it reports (a broker down) the consumer's error handler reports too.
        using (var admin = new AdminClientBuilder(_adminConfig)
            .SetLogHandler((_, message) => Log.MetadataClientLog(logger, message.Facility, message.Message))
            .Build())
        {
            foreach (var name in topics.Names)
            {
                if (ListPartitions(admin, name) is { } partitions)
                {
                    pending.AddRange(partitions.Where(p => !_requested.ContainsKey(p)));
                }
                else
                {
                    complete = false;
                }
            }
        }

        foreach (var partition in pending)
        {
            state.Discovered(partition);
        }

        // Side by side: each partition is queued the moment its own watermarks arrive, so a leader
        // that is down delays only its partitions.
        var failed = new ConcurrentQueue<(PartitionKey Partition, string Reason)>();
        using var gate = new SemaphoreSlim(QueryParallelism);
        var token = _stopping.Token;
        var queries = pending.Select(async partition =>
        {
            await gate.WaitAsync(token);
            try
            {
                await Task.Factory.StartNew(
                    () => QueryAndQueue(consumer, partition, failed),
                    CancellationToken.None,
                    TaskCreationOptions.LongRunning,
                    TaskScheduler.Default);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        try
        {
            await Task.WhenAll(queries);
        }
        catch (OperationCanceledException)
        {
            return true;
        }

        if (failed.IsEmpty)
        {
            return complete;
        }

        if (_queryFailures.ShouldLog(out _))
        {
            foreach (var topic in failed.GroupBy(f => f.Partition.Topic, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var ordered = topic.OrderBy(f => f.Partition.Partition).ToList();
                Log.PartitionsUnavailable(logger, topic.Key, string.Join(", ", ordered.Select(f => f.Partition.Partition)), ordered[^1].Reason);
            }
        }

        return false;
    }

    /// <summary>One topic's partitions from its metadata; null (logged, and in the state) when it has none or cannot be read.</summary>
    private List<PartitionKey>? ListPartitions(IAdminClient admin, string name)
    {
        string reason;
        try
        {
            var metadata = admin.GetMetadata(name, MetadataTimeout);
            var topic = metadata.Topics.FirstOrDefault(t => t.Topic == name);
            if (topic is not null && !topic.Error.IsError && topic.Partitions.Count > 0)
            {
                var partitions = topic.Partitions.Select(p => new PartitionKey(name, p.PartitionId)).OrderBy(p => p.Partition).ToList();
                if (_metadataSeen.Add(name))
                {
                    _knownAtStart.UnionWith(partitions);
                }

                state.TopicListed(name);
                return partitions;
            }

            reason = topic?.Error.Reason ?? "no metadata";
            Log.TopicUnavailable(logger, name, reason);
            state.Error("topic unavailable", brokersDown: false);
        }
        catch (KafkaException ex)
        {
            reason = ex.Error.Reason;
            Log.TopicUnavailable(logger, name, reason);
            state.Error(reason, brokersDown: false);
        }

        state.TopicUnavailable(name, reason);
        if (!_metadataSeen.Contains(name))
        {
            _refreshFailedBeforeMetadata.Add(name);
        }

        return null;
    }

    /// <summary>Reads one partition's watermarks and queues its assignment, or records why not.</summary>
    private void QueryAndQueue(IConsumer<byte[], byte[]> consumer, PartitionKey partition, ConcurrentQueue<(PartitionKey Partition, string Reason)> failed)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        WatermarkOffsets offsets;
        try
        {
            offsets = consumer.QueryWatermarkOffsets(new TopicPartition(partition.Topic, partition.Partition), MetadataTimeout);
        }
        catch (KafkaException ex)
        {
            // Its leader is down or not ready: nothing is recorded but the wait, so the next try
            // applies the same rule (known at start or added later) as this one would have.
            _queryFailed[partition] = 0;
            state.Waiting(partition, ex.Error.Reason);
            failed.Enqueue((partition, ex.Error.Reason));
            return;
        }

        // Queued at once: the consumer thread assigns it on its next turn, whatever the others do.
        _requested[partition] = 0;
        _toAssign.Enqueue(StartOf(partition, offsets));
    }

    /// <summary>Where a partition is read from and how its records are classified.</summary>
    private PartitionRule StartOf(PartitionKey partition, WatermarkOffsets offsets)
    {
        var low = offsets.Low.Value;
        var high = offsets.High.Value;
        if (!_knownAtStart.Contains(partition))
        {
            // A partition added while running: everything in it is new.
            return new PartitionRule(partition, low, low, high, null, 0);
        }

        // Known at start: live from the live end, with ReplayRecords below it read back to rebuild history.
        var historyFrom = Math.Max(low, high - _replayRecords);
        if (!_refreshFailedBeforeMetadata.Contains(partition.Topic) && !_queryFailed.ContainsKey(partition) && time.GetUtcNow() - _startedAt < LateAfter)
        {
            return new PartitionRule(partition, historyFrom, high, high, null, 0);
        }

        // Known at start but reached late (its leader, or every broker, or its topic was missing, or its watermarks
        // came more than LateAfter after start): producers buffer while a leader is down and
        // deliver when it returns, so records produced after the service started may already sit
        // below this high watermark. Rule: such a partition is read from its
        // low watermark; a record is live when it is at or above the high watermark seen now, or
        // when its timestamp is at or after the service's start (TimeProvider); the last
        // ReplayRecords records before that seam rebuild history and older ones are skipped.
        // Reading from the low watermark is what makes this lossless (the mock broker, like some
        // others, cannot seek by time); it costs one pass over that partition's retention, plus
        // re-reading the ReplayRecords before the seam (nothing is held in memory meanwhile).
        // The seam is only as exact as the producers' clocks: a record stamped by a clock running
        // behind ours counts as produced before start.
        return new PartitionRule(partition, low, high, high, _startedAt, _replayRecords);
    }

    /// <summary>Assigns what the refresh task queued (consumer thread only).</summary>
    private void AssignQueued(IConsumer<byte[], byte[]> consumer)
    {
        if (_toAssign.IsEmpty)
        {
            return;
        }

        var starts = new List<PartitionRule>();
        while (_toAssign.TryDequeue(out var start))
        {
            starts.Add(start);
        }

        var offsets = starts.Select(s => new TopicPartitionOffset(s.Partition.Topic, s.Partition.Partition, s.Start)).ToList();
        try
        {
            consumer.IncrementalAssign(offsets);
        }
        catch (KafkaException ex)
        {
            // Not assigned: the refresh task queries these again. Their watermarks are stale by
            // then, so they are marked failed and take the late rule (read from the low watermark,
            // live by timestamp) rather than the live end of the retry.
            foreach (var start in starts)
            {
                state.Waiting(start.Partition, ex.Error.Reason);
                _queryFailed[start.Partition] = 0;
                _requested.TryRemove(start.Partition, out _);
            }

            OnError(ex.Error);
            return;
        }

        foreach (var start in starts)
        {
            _liveRules[start.Partition] = start;
            state.AddPartition(start.Partition, start.Start, start.LiveFrom);
            // Lag is visible from the first scrape, not only after the first probe.
            state.Watermark(start.Partition, start.High);
        }

        state.Contact();
        if (logger.IsEnabled(LogLevel.Information))
        {
            foreach (var topic in starts.Select(s => s.Partition.Topic).Distinct(StringComparer.Ordinal))
            {
                Log.Assigned(logger, topic, string.Join(", ", _liveRules.Keys.Where(k => k.Topic == topic).Select(k => k.Partition).Order()));
            }
        }
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
                        var offsets = consumer.QueryWatermarkOffsets(new TopicPartition(partition.Topic, partition.Partition), timeout);
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
        if (_errors.ShouldLog(out var suppressed))
        {
            Log.KafkaError(logger, error.Reason, error.Code, suppressed);
        }
    }

    private void OnLog(LogMessage message)
    {
        // librdkafka's own log lines duplicate what the error handler reports; keep only the severe ones.
        if (message.Level <= SyslogLevel.Error)
        {
            OnError(new Error(ErrorCode.Local_Fail, message.Message));
        }
    }

    /// <summary>A record of a partition with no rule: dropped, reported at most once per interval.</summary>
    private void Unruled(PartitionKey partition)
    {
        if (_unruled.ShouldLog(out var suppressed))
        {
            Log.UnassignedRecord(logger, partition.Topic, partition.Partition, suppressed);
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

    /// <summary>
    /// Where one partition is read from and which of its records are live (broadcast) or history
    /// only. Consumer thread only.
    /// </summary>
    /// <param name="start">The first offset read.</param>
    /// <param name="liveFrom">Records at or above this offset are live.</param>
    /// <param name="high">The high watermark when the partition was assigned.</param>
    /// <param name="liveSince">
    /// Set for a partition known at start but reached late: records stamped at or after it are
    /// live whatever their offset, and of the others only the last <paramref name="historyRecords"/>
    /// before the first live one (the seam) rebuild history.
    /// </param>
    private sealed class PartitionRule(PartitionKey partition, long start, long liveFrom, long high, DateTimeOffset? liveSince, long historyRecords)
    {
        // Late partitions only: the seam's offset once found, -1 while scanning for it. Records
        // before the seam are skipped while scanning (nothing is held); once it is found the
        // partition is sought back historyRecords before it and those are read again as history.
        private long _seam = -1;

        public PartitionKey Partition => partition;

        public long Start => start;

        public long LiveFrom => liveFrom;

        public long High => high;

        /// <summary>Routes one record; returns the error when the seek back to the history failed.</summary>
        public Error? Route(in KafkaRecord record, Timestamp timestamp, ReadingPipeline pipeline, IConsumer<byte[], byte[]> consumer)
        {
            if (liveSince is not { } since)
            {
                pipeline.Process(record, live: record.Offset >= liveFrom);
                return null;
            }

            var live = record.Offset >= liveFrom ||
                (timestamp.Type != TimestampType.NotAvailable && timestamp.UnixTimestampMs >= since.ToUnixTimeMilliseconds());
            if (_seam >= 0)
            {
                pipeline.Process(record, live: live && record.Offset >= _seam);
                return null;
            }

            if (!live && record.Offset + 1 < liveFrom)
            {
                return null;
            }

            // The seam: this live record, or the live end when this was the last record below it.
            _seam = live ? record.Offset : liveFrom;
            var historyFrom = Math.Max(start, _seam - historyRecords);
            if (historyFrom >= (live ? record.Offset : record.Offset + 1))
            {
                // Nothing before the seam is wanted (historyRecords is 0), or nothing was skipped.
                if (live)
                {
                    pipeline.Process(record, live: true);
                }

                return null;
            }

            try
            {
                consumer.Seek(new TopicPartitionOffset(partition.Topic, partition.Partition, historyFrom));
                return null;
            }
            catch (KafkaException ex)
            {
                // The history before the seam stays incomplete; the live stream loses nothing.
                pipeline.Process(record, live: live);
                return ex.Error;
            }
        }
    }
}
