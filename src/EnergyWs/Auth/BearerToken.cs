using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EnergyWs.Auth;

/// <summary>Where a client may put its token, and the WebSocket subprotocol that carries one.</summary>
internal static class BearerToken
{
    /// <summary>The subprotocol a browser names before its token: <c>new WebSocket(url, ["bearer", token])</c>.</summary>
    public const string SubProtocol = "bearer";

    /// <summary>
    /// Longest token considered. Authentik access tokens are 1-4 KB even with many groups; anything
    /// far beyond that is refused before a byte of it is parsed or verified.
    /// </summary>
    public const int MaxLength = 16 * 1024;

    /// <summary>Query parameters that carry a token; their values are redacted from request logs.</summary>
    public static readonly string[] QueryParameters = ["token", "access_token"];

    /// <summary>
    /// The token from, in this order: the Authorization header, the subprotocol pair
    /// "bearer, &lt;token&gt;", ?access_token=, ?token=. Null when none is present.
    /// </summary>
    public static string? Find(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return NullIfEmpty(authorization["Bearer ".Length..].Trim());
        }

        if (FromSubProtocol(request.Headers.SecWebSocketProtocol) is { } fromProtocol)
        {
            return fromProtocol;
        }

        return NullIfEmpty(request.Query["access_token"].ToString()) ?? NullIfEmpty(request.Query["token"].ToString());
    }

    /// <summary>
    /// "bearer" when the client offered it: a browser that offered subprotocols drops a connection
    /// whose handshake answers none of them.
    /// </summary>
    public static string? AnswerSubProtocol(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var offered in context.WebSockets.WebSocketRequestedProtocols)
        {
            if (string.Equals(offered, SubProtocol, StringComparison.OrdinalIgnoreCase))
            {
                return offered;
            }
        }

        return null;
    }

    private static string? FromSubProtocol(StringValues header)
    {
        // The header may arrive as one comma-separated line or as repeated headers.
        string? previous = null;
        foreach (var line in header)
        {
            foreach (var item in (line ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (string.Equals(previous, SubProtocol, StringComparison.OrdinalIgnoreCase))
                {
                    return item;
                }

                previous = item;
            }
        }

        return null;
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
