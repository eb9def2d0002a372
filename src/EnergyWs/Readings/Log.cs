using Microsoft.Extensions.Logging;

namespace EnergyWs.Readings;

internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning,
        Message = "Skipped record {Topic}/{Partition}@{Offset}: {Reason} ({Suppressed} similar skipped since the last report)")]
    public static partial void RecordSkipped(this ILogger logger, string topic, int partition, long offset, string reason, long suppressed);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error,
        Message = "Decoder failed on record {Topic}/{Partition}@{Offset}; skipped ({Suppressed} more failures since the last report)")]
    public static partial void DecoderFailed(this ILogger logger, Exception exception, string topic, int partition, long offset, long suppressed);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information,
        Message = "Energy counter of {Device}/{Channel} went back from {Previous} to {Current} kWh at {Topic}/{Partition}@{Offset} (meter reset?); accepted ({Suppressed} more since the last report)")]
    public static partial void CounterWentBack(this ILogger logger, string device, string channel, double previous, double current, string topic, int partition, long offset, long suppressed);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning,
        Message = "Meter state is full ({Limit} device+channel entries); readings of new devices carry only their own message's fields ({Suppressed} more since the last report)")]
    public static partial void StateFull(this ILogger logger, int limit, long suppressed);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Error,
        Message = "Publishing the readings of record {Topic}/{Partition}@{Offset} failed; skipped ({Suppressed} more failures since the last report)")]
    public static partial void PublishFailed(this ILogger logger, Exception exception, string topic, int partition, long offset, long suppressed);
}
