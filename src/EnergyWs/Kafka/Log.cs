using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Kafka;

internal static partial class Log
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information,
        Message = "Kafka consumer started on {Topic} at {BootstrapServers} (librdkafka {Version} from {LibraryPath})")]
    public static partial void ConsumerStarted(ILogger logger, string topic, string bootstrapServers, string version, string? libraryPath);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Assigned {Topic} partitions [{Partitions}]")]
    public static partial void Assigned(ILogger logger, string topic, string partitions);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning,
        Message = "Kafka: {Reason} ({Code}) ({Suppressed} more errors since the last report)")]
    public static partial void KafkaError(ILogger logger, string reason, ErrorCode code, long suppressed);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Critical, Message = "Kafka consumer failed fatally: {Reason} ({Code}); stopping")]
    public static partial void FatalError(ILogger logger, string reason, ErrorCode code);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Topic {Topic} is not available yet: {Reason}")]
    public static partial void TopicUnavailable(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "Kafka consumer loop error; continuing")]
    public static partial void LoopError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Kafka consumer stopped")]
    public static partial void ConsumerStopped(ILogger logger);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Debug, Message = "librdkafka metadata client: {Facility}: {Message}")]
    public static partial void MetadataClientLog(ILogger logger, string facility, string message);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning,
        Message = "Partitions [{Partitions}] of {Topic} cannot be assigned yet (their watermarks are unavailable: {Reason}); retrying")]
    public static partial void PartitionsUnavailable(ILogger logger, string topic, string partitions, string reason);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Error,
        Message = "A record of {Topic} partition {Partition} arrived although its assignment failed; dropped, not broadcast ({Suppressed} more since the last report)")]
    public static partial void UnassignedRecord(ILogger logger, string topic, int partition, long suppressed);
}
