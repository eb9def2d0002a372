using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace EnergyWs.Auth;

internal sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>
    /// The framework's default skew is 5 minutes: far too lax for a socket that is closed when its
    /// token expires.
    /// </summary>
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromSeconds(30);

    /// <summary>/ws requires a token. Off: /ws is open to anyone (a warning is logged at start).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The OIDC issuer, e.g. https://authentik.example.com/application/o/energy-ws/ (discovery below it).</summary>
    public string? Authority { get; set; }

    /// <summary>Default <see cref="RefreshNotice"/>: enough for a page to fetch a new token from its provider.</summary>
    public static readonly TimeSpan DefaultRefreshNotice = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The audiences a token's aud must contain one of: the client id (Authentik, Authelia) or an
    /// audience mapper's value (Keycloak). One value, a comma-separated list, or a list
    /// (<c>Auth:Audience:0</c>, <c>Auth:Audience:1</c>, …).
    /// </summary>
    public string? Audience { get; set; }

    /// <summary>
    /// Off accepts tokens for any audience of the provider (a warning is logged at start): only for
    /// a provider that issues tokens to this service alone.
    /// </summary>
    public bool ValidateAudience { get; set; } = true;

    /// <summary>
    /// Only RFC 9068 access tokens: header typ at+jwt and the claims iss, exp, aud, sub, client_id,
    /// iat, jti. Off by default because Authentik and Keycloak issue access tokens with typ "JWT";
    /// switch on for a provider that follows RFC 9068 (Authelia with JWT access tokens). Either way
    /// tokens that look like ID tokens are refused.
    /// </summary>
    public bool RequireAccessTokenType { get; set; }

    /// <summary>Scopes a token must carry (from its <c>scope</c> or <c>scp</c> claim); empty requires none.</summary>
    public string[] RequiredScopes { get; set; } = [];

    /// <summary>
    /// How long before a connection's token expires a client that asked for notices is sent
    /// token_expiring, so it can refresh in-band before the connection is closed with 4401.
    /// </summary>
    [TimeSpanRange("00:00:01", "01:00:00", ErrorMessage = "Auth:RefreshNotice must be between 00:00:01 and 01:00:00.")]
    public TimeSpan RefreshNotice { get; set; } = DefaultRefreshNotice;

    /// <summary>Opaque (non-JWT) tokens, checked at the provider's introspection endpoint; off without a client id.</summary>
    [ValidateObjectMembers]
    public IntrospectionOptions Introspection { get; set; } = new();

    /// <summary>Every configured audience, trimmed, without empties.</summary>
    public string[] Audiences =>
        (Audience ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Discovery and keys only over HTTPS; switch off only for a provider on a trusted network.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    [TimeSpanRange("00:00:00", "00:05:00", ErrorMessage = "Auth:ClockSkew must be between 00:00:00 and 00:05:00.")]
    public TimeSpan ClockSkew { get; set; } = DefaultClockSkew;

    /// <summary>
    /// How often the signing keys are fetched again even when no token names an unknown key, so a
    /// key the provider withdrew stops being accepted.
    /// </summary>
    [TimeSpanRange("00:00:01", "1.00:00:00", ErrorMessage = "Auth:KeyRefreshInterval must be between 00:00:01 and 1.00:00:00.")]
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Least time between two key fetches triggered by tokens naming an unknown key id: a stream of
    /// forged kids costs the provider at most one request per interval.
    /// </summary>
    [TimeSpanRange("00:00:01", "01:00:00", ErrorMessage = "Auth:KeyRefreshMinimumInterval must be between 00:00:01 and 01:00:00.")]
    public TimeSpan KeyRefreshMinimumInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Browser origins allowed to open /ws (e.g. https://energy.example.com); empty allows any.</summary>
    public string[] AllowedOrigins { get; set; } = [];
}

/// <summary>RFC 7662 token introspection for tokens that are not JWTs.</summary>
internal sealed class IntrospectionOptions
{
    /// <summary>The client this service authenticates as (HTTP Basic) at the introspection endpoint; unset: opaque tokens are refused.</summary>
    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    /// <summary>
    /// Introspection requests in flight at once. A flood of made-up tokens cannot each cost the
    /// provider a request at the same time; the rest wait up to <see cref="Timeout"/> and are then refused.
    /// </summary>
    [Range(1, 256, ErrorMessage = "Auth:Introspection:MaxConcurrent must be between 1 and 256.")]
    public int MaxConcurrent { get; set; } = 4;

    /// <summary>Results kept (by the token's SHA-256); when full, new results are not kept until entries expire.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Auth:Introspection:CacheSize must be between 1 and 1000000.")]
    public int CacheSize { get; set; } = 10_000;

    /// <summary>
    /// Longest time a result is reused, also for a token whose exp is later: a revoked token stops
    /// working at most this long after its revocation.
    /// </summary>
    [TimeSpanRange("00:00:01", "01:00:00", ErrorMessage = "Auth:Introspection:MaxCacheDuration must be between 00:00:01 and 01:00:00.")]
    public TimeSpan MaxCacheDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Longest wait for a slot and the provider's answer together.</summary>
    [TimeSpanRange("00:00:00.100", "00:01:00", ErrorMessage = "Auth:Introspection:Timeout must be between 00:00:00.100 and 00:01:00.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Introspections (cache misses) one client address (IPv6 by /64) may cause per minute, refilled
    /// smoothly; 0: unlimited. Over it the handshake is answered 429 with Retry-After.
    /// </summary>
    [Range(0, 60_000, ErrorMessage = "Auth:Introspection:PerClientPerMinute must be between 0 and 60000.")]
    public int PerClientPerMinute { get; set; } = 30;

    /// <summary>Introspections one client address may cause at once before <see cref="PerClientPerMinute"/> applies.</summary>
    [Range(1, 10_000, ErrorMessage = "Auth:Introspection:PerClientBurst must be between 1 and 10000.")]
    public int PerClientBurst { get; set; } = 10;

    public bool Enabled => !string.IsNullOrWhiteSpace(ClientId);
}

[OptionsValidator]
internal sealed partial class AuthOptionsValidator : IValidateOptions<AuthOptions>;

/// <summary>Rules across settings and the environment, which DataAnnotations cannot express.</summary>
internal sealed class AuthOptionsRules(IHostEnvironment environment) : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Enabled)
        {
            if (string.IsNullOrWhiteSpace(options.Authority))
            {
                // Development runs the open demo instead (see AuthExtensions); anywhere else an
                // unauthenticated /ws must be asked for explicitly with Auth:Enabled=false.
                if (!environment.IsDevelopment())
                {
                    failures.Add("Auth:Authority must be set to the identity provider's issuer URL (or set Auth:Enabled=false to leave /ws open).");
                }
            }
            else
            {
                if (!Uri.TryCreate(options.Authority, UriKind.Absolute, out var authority) || (authority.Scheme != Uri.UriSchemeHttps && authority.Scheme != Uri.UriSchemeHttp))
                {
                    failures.Add("Auth:Authority must be an absolute http(s) URL, e.g. https://authentik.example.com/application/o/energy-ws/.");
                }
                else if (options.RequireHttpsMetadata && authority.Scheme != Uri.UriSchemeHttps)
                {
                    failures.Add("Auth:Authority must use https while Auth:RequireHttpsMetadata is true.");
                }

                if (options.ValidateAudience && options.Audiences.Length == 0)
                {
                    failures.Add("Auth:Audience must be set to the client id the tokens are issued for (or set Auth:ValidateAudience=false to accept any audience).");
                }
            }
        }

        if (string.IsNullOrWhiteSpace(options.Introspection.ClientId) != string.IsNullOrWhiteSpace(options.Introspection.ClientSecret))
        {
            failures.Add("Auth:Introspection:ClientId and Auth:Introspection:ClientSecret must be set together.");
        }

        foreach (var origin in options.AllowedOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out _))
            {
                failures.Add($"Auth:AllowedOrigins entries must be origins like https://energy.example.com, not '{origin}'.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
