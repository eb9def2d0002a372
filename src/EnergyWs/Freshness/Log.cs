using Microsoft.Extensions.Logging;

namespace EnergyWs.Freshness;

internal static partial class Log
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning,
        Message = "Stream {Stream} is stale: no record for {Silence}, the last arrived at {LastRecord:u} (stale after {StaleAfter})")]
    public static partial void StreamStale(this ILogger logger, string stream, TimeSpan silence, DateTimeOffset lastRecord, TimeSpan staleAfter);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information,
        Message = "Stream {Stream} is live again after {Silence} without a record")]
    public static partial void StreamLive(this ILogger logger, string stream, TimeSpan silence);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning,
        Message = "Device {Device} of stream {Stream} is stale: no record for {Silence}, the last arrived at {LastRecord:u} (stale after {StaleAfter})")]
    public static partial void DeviceStale(this ILogger logger, string device, string stream, TimeSpan silence, DateTimeOffset lastRecord, TimeSpan staleAfter);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Information,
        Message = "Device {Device} of stream {Stream} is live again after {Silence} without a record")]
    public static partial void DeviceLive(this ILogger logger, string device, string stream, TimeSpan silence);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Warning,
        Message = "Stream {Stream} is stale: no record since the history was rebuilt {Silence} ago (stale after {StaleAfter})")]
    public static partial void StreamNeverSeen(this ILogger logger, string stream, TimeSpan silence, TimeSpan staleAfter);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning,
        Message = "Stream {Stream} already tracks {Limit} devices: device {Device} and any later new ones move only the stream's freshness, not their own")]
    public static partial void DevicesBeyondBound(this ILogger logger, string stream, int limit, string device);

    [LoggerMessage(EventId = 7007, Level = LogLevel.Error,
        Message = "A handler of a freshness change of stream {Stream} failed")]
    public static partial void ChangeHandlerFailed(this ILogger logger, Exception exception, string stream);
}
