using System.Security.Claims;

namespace EnergyWs.Auth;

/// <summary>
/// What a signed, unexpired token for our audience must also be: an access token (not an ID
/// token), naming a principal, with the required scopes. Applied to every token however it was
/// verified (JWT signature at upgrade or refresh, or introspection), on its claims alone.
/// </summary>
internal static class TokenRules
{
    /// <summary>RFC 9068 §2.2: the claims every JWT access token carries.</summary>
    private static readonly string[] Rfc9068Claims = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"];

    /// <summary>
    /// Null when the token is acceptable, with <paramref name="principal"/> set; otherwise why not,
    /// in words that never quote a claim's value.
    /// </summary>
    public static string? Check(ClaimsPrincipal user, AuthOptions options, bool rfc9068Claims, out string principal)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(options);
        principal = "";

        // ID tokens carry the hash of the access token or code issued with them (OIDC Core §3.1.3.6,
        // §3.3.2.11); access tokens never do. Keycloak also labels its tokens with a typ claim.
        // nonce is not a signal: Keycloak before 24 (keycloak/keycloak#26893) and Authentik copy
        // the client's nonce into access tokens too.
        if (user.HasClaim(c => c.Type is "at_hash" or "c_hash"))
        {
            return "an ID token, not an access token (at_hash/c_hash)";
        }

        var typ = user.FindFirst("typ");
        if (typ is not null && string.Equals(typ.Value, "ID", StringComparison.OrdinalIgnoreCase))
        {
            return "an ID token, not an access token (typ claim ID)";
        }

        // Keycloak labels access tokens Bearer, refresh tokens Refresh, ID tokens ID.
        if (typ is not null && !string.Equals(typ.Value, "Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return "not an access token (typ claim is not Bearer)";
        }

        // Logout tokens (OIDC Back-Channel Logout §2.4) are signed by the same keys.
        if (user.HasClaim(c => c.Type == "events"))
        {
            return "a logout token, not an access token (events claim)";
        }

        if (rfc9068Claims && options.RequireAccessTokenType)
        {
            foreach (var claim in Rfc9068Claims)
            {
                if (user.FindFirst(claim) is null)
                {
                    return $"not an RFC 9068 access token (no {claim} claim)";
                }
            }
        }

        // Machine tokens (client_credentials) name no user: Keycloak's lightweight tokens have no
        // sub, only the client; Authentik and Authelia put the client or service account in sub.
        principal = PrincipalKey(user) ?? "";
        if (principal.Length == 0)
        {
            return "no principal (sub, client_id or azp)";
        }

        if (options.RequiredScopes.Length > 0)
        {
            var scopes = Scopes(user);
            foreach (var required in options.RequiredScopes)
            {
                if (!scopes.Contains(required))
                {
                    return "a required scope is missing";
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The token's scopes: <c>scope</c> is a space-separated string (RFC 8693 §4.2, RFC 9068);
    /// <c>scp</c> is an array (Okta, fosite) or a space-separated string (Entra ID). A JSON array
    /// arrives as one claim per element.
    /// </summary>
    /// <summary>
    /// Who the token is for, namespaced so a client named like a user is not that user: "sub:…",
    /// else "client:…" (client_id, else azp); null when it names neither. A refresh must keep it,
    /// and connections per user are counted by it.
    /// </summary>
    public static string? PrincipalKey(ClaimsPrincipal user) =>
        Value(user, "sub") is { } subject ? "sub:" + subject
        : (Value(user, "client_id") ?? Value(user, "azp")) is { } client ? "client:" + client
        : null;

    public static HashSet<string> Scopes(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var scopes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in user.Claims)
        {
            if (claim.Type is "scope" or "scp")
            {
                foreach (var scope in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    scopes.Add(scope);
                }
            }
        }

        return scopes;
    }

    private static string? Value(ClaimsPrincipal user, string type) =>
        user.FindFirst(type)?.Value is { Length: > 0 } value ? value : null;
}

/// <summary>
/// The credentials a request or connection was accepted with: whose they are, when the token
/// expires, when the connection must close (the expiry plus the clock skew), and the token's
/// scopes (which streams it may read, <see cref="StreamAccess"/>).
/// </summary>
internal sealed record TokenSession(string Principal, DateTimeOffset ExpiresAt, DateTimeOffset ClosesAt, IReadOnlySet<string> Scopes);
