namespace EnergyWs;

internal static partial class Log
{
    [LoggerMessage(EventId = 9201, Level = LogLevel.Warning,
        Message = "{Settings} set but forwarded headers are off (ASPNETCORE_FORWARDEDHEADERS_ENABLED is not true): X-Forwarded-For is ignored and the per-IP limits count the peer's address")]
    public static partial void TrustedProxiesUnused(ILogger logger, string settings);

    [LoggerMessage(EventId = 9202, Level = LogLevel.Warning,
        Message = "A request from {Peer} carries X-Forwarded-For but forwarded headers are off: behind a proxy every client counts as the proxy's address in the per-IP limits; set ASPNETCORE_FORWARDEDHEADERS_ENABLED=true and Hosting:KnownProxies or Hosting:KnownNetworks (logged once)")]
    public static partial void ForwardedHeaderIgnored(ILogger logger, string peer);
}
