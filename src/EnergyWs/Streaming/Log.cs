using Microsoft.Extensions.Logging;

namespace EnergyWs.Streaming;

internal static partial class Log
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Client {Remote} connected ({Connections} connected)")]
    public static partial void ClientConnected(ILogger logger, string remote, int connections);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "Client {Remote} closed: {Reason} after {Duration}")]
    public static partial void ClientClosed(ILogger logger, string remote, string reason, TimeSpan duration);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug, Message = "Close handshake with {Remote} did not complete ({Reason}); connection aborted")]
    public static partial void CloseHandshakeFailed(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Connection limit {Limit} reached; refused {Remote}")]
    public static partial void ConnectionLimitReached(ILogger logger, int limit, string remote);

    // 3005 (closing all connections at shutdown) was never logged and is gone; not reused, so a log query by id keeps one meaning.

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "Slow client {Remote} closed: nothing accepted for {Timeout}")]
    public static partial void SlowClientClosed(ILogger logger, string remote, TimeSpan timeout);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Information, Message = "{Connections} clients connected")]
    public static partial void ConnectionCount(ILogger logger, int connections);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Debug, Message = "Connection attempt from {RemoteIp} rate-limited")]
    public static partial void ConnectRateLimited(ILogger logger, string remoteIp);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Error, Message = "Handling a message from client {Remote} failed; connection closed with 1011 ({Suppressed} more failures since the last report)")]
    public static partial void ReaderFailed(ILogger logger, Exception exception, string remote, long suppressed);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "Client {Remote} refused: its principal holds Streaming:MaxConnectionsPerUser ({Limit}) connections")]
    public static partial void UserConnectionLimitReached(ILogger logger, int limit, string remote);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Debug, Message = "Readings API request from {RemoteIp} rate-limited")]
    public static partial void ApiRateLimited(ILogger logger, string remoteIp);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error, Message = "Writer for client {Remote} failed; connection closed")]
    public static partial void WriterFailed(ILogger logger, Exception exception, string remote);

    [LoggerMessage(EventId = 3030, Level = LogLevel.Warning, Message = "Replay budget of {Budget} frames stayed in use for {Timeout}; refused a client's replay")]
    public static partial void ReplayBudgetExhausted(ILogger logger, int budget, TimeSpan timeout);

    [LoggerMessage(EventId = 3031, Level = LogLevel.Debug, Message = "A client's earlier replay was still being written after {Timeout}; refused its next replay")]
    public static partial void ReplayPerUserBusy(ILogger logger, TimeSpan timeout);
}
