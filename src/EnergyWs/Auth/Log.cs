using Microsoft.Extensions.Logging;

namespace EnergyWs.Auth;

internal static partial class Log
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Authentication is off: /ws accepts clients without a token ({Why})")]
    public static partial void AuthenticationOff(ILogger logger, string why);

    [LoggerMessage(EventId = 4020, Level = LogLevel.Warning, Message = "Authentication is off: streams {Streams} have a Scope, but every client reads them")]
    public static partial void StreamScopesIgnored(ILogger logger, string streams);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Signing keys loaded from {MetadataAddress}: {KeyCount} keys, issuer {Issuer}")]
    public static partial void KeysLoaded(ILogger logger, string metadataAddress, int keyCount, string issuer);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Identity provider unreachable at {MetadataAddress}: tokens are refused until its signing keys load ({Error})")]
    public static partial void KeysUnavailable(ILogger logger, string metadataAddress, string error);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Refused client {Remote}: {Error} {Description}")]
    public static partial void Refused(ILogger logger, string remote, string error, string description);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "Refused client {Remote}: origin {Origin} is not in Auth:AllowedOrigins")]
    public static partial void OriginRefused(ILogger logger, string remote, string origin);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Debug, Message = "Signing keys refreshed from {MetadataAddress}: {KeyCount} keys")]
    public static partial void KeysRefreshed(ILogger logger, string metadataAddress, int keyCount);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Warning, Message = "Auth:ValidateAudience is false: tokens the provider issued for any client are accepted")]
    public static partial void AudienceNotChecked(ILogger logger);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "Token introspection unavailable: {Reason}; opaque tokens not in the cache are refused with 503")]
    public static partial void IntrospectionUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Warning, Message = "Auth:RequireHttpsMetadata is false and Auth:Authority {Authority} is plain http to another host: signing keys, discovery and introspection travel unprotected; use https or a loopback address")]
    public static partial void MetadataInClear(ILogger logger, string authority);
}
