using Microsoft.Extensions.Logging;

namespace EnergyWs.Readings;

internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning,
        Message = "Skipped record {Topic}/{Partition}@{Offset}: {Reason} ({Suppressed} similar skipped since the last report)")]
    public static partial void RecordSkipped(this ILogger logger, string topic, int partition, long offset, string reason, long suppressed);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Decoder failed on record {Topic}/{Partition}@{Offset}")]
    public static partial void DecoderFailed(this ILogger logger, Exception exception, string topic, int partition, long offset);
}
