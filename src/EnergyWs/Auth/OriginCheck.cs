using EnergyWs.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EnergyWs.Auth;

/// <summary>
/// Cross-site WebSocket hijacking guard: with Auth:AllowedOrigins set, an upgrade from a page of
/// another origin gets 403 (browsers send cookies and proxy credentials along with it). Clients
/// without an Origin header are not browsers and pass.
/// </summary>
internal sealed class OriginCheck(IOptions<AuthOptions> options, StreamingMetrics metrics, ILogger<OriginCheck> logger)
{
    private readonly HashSet<string> _allowed = new(options.Value.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);

    /// <summary>True when the request may continue; otherwise the 403 has been set.</summary>
    public bool Allows(HttpContext context)
    {
        if (_allowed.Count == 0 || !context.WebSockets.IsWebSocketRequest)
        {
            return true;
        }

        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0 || _allowed.Contains(origin.TrimEnd('/')))
        {
            return true;
        }

        metrics.Rejected("rejected_origin");
        Log.OriginRefused(logger, $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}", origin);
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return false;
    }
}
