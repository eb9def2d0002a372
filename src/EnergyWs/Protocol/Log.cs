using Microsoft.Extensions.Logging;

namespace EnergyWs.Protocol;

internal static partial class Log
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Client {Remote} sent control messages faster than {Rate}/s; closing it")]
    public static partial void RateLimited(ILogger logger, string remote, double rate);
}
