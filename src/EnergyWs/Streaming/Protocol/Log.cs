using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming.Protocol;

internal static partial class Log
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Client {Remote} sent control messages faster than {Rate}/s; closing it")]
    public static partial void RateLimited(ILogger logger, string remote, double rate);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Debug, Message = "Client {Remote} refreshed its token in-band: now valid until {ExpiresAt}")]
    public static partial void TokenRefreshed(ILogger logger, string remote, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Information, Message = "Refused the token refresh of client {Remote}: {Reason}; the connection keeps its expiry {ExpiresAt}")]
    public static partial void TokenRefreshRefused(ILogger logger, string remote, string reason, DateTimeOffset expiresAt);
}
