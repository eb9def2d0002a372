using EnergyWs.Kafka;

namespace EnergyWs;

/// <summary>
/// Compacts the managed heap once, when the service has become ready (partitions assigned,
/// history read back), and returns the memory that starting up used to the OS.
/// </summary>
/// <remarks>
/// Starting allocates ~25 MB (configuration, dependency injection, Kestrel, the consumer, the
/// history rebuild), most of which is garbage by the time clients arrive. The GC keeps the regions
/// it used committed, and a service that is mostly idle rarely collects again, so that memory stays
/// resident for the life of the pod: measured on Native AOT, 16 MB committed for 5 MB of live
/// objects, and an idle RSS of 49.5 MB instead of 39 MB. One aggressive (decommitting) collection as
/// the service becomes ready costs a pause of a few milliseconds, once. Off with
/// <see cref="MemoryOptions.CompactAfterStart"/> = false.
/// </remarks>
internal sealed partial class StartupHeapCompaction(ConsumerState consumer, TimeProvider time, ILogger<StartupHeapCompaction> logger)
    : BackgroundService
{
    internal static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private int _checks;

    /// <summary>How often readiness was looked at (tests wait on it instead of guessing).</summary>
    internal int Checks => Volatile.Read(ref _checks);

    /// <summary>The collection itself; tests replace it.</summary>
    internal Action Collect { get; init; } = static () =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The same condition readiness waits for; polled, because it is only needed once.
        while (true)
        {
            Interlocked.Increment(ref _checks);
            if (consumer.Assigned && !consumer.Replaying)
            {
                break;
            }

            try
            {
                await Task.Delay(PollInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Stopping before it was ever ready (a failed start): nothing to compact, nothing wrong.
                return;
            }
        }

        Collect();
        var info = GC.GetGCMemoryInfo();
        LogCompacted(logger, info.HeapSizeBytes / 1048576.0, info.TotalCommittedBytes / 1048576.0);
    }

    [LoggerMessage(EventId = 9101, Level = LogLevel.Information,
        Message = "Ready: managed heap compacted to {HeapMb:F1} MB ({CommittedMb:F1} MB committed)")]
    private static partial void LogCompacted(ILogger logger, double heapMb, double committedMb);
}
