using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Duende.IdentityModel.Client;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace EnergyWs.Auth;

/// <summary>What introspection said about a token.</summary>
internal enum IntrospectionOutcome
{
    /// <summary>Active, for us, not expired: <see cref="IntrospectionResult.Principal"/> is set.</summary>
    Active,

    /// <summary>active:false, or active but not acceptable here (audience, expiry).</summary>
    Refused,

    /// <summary>The provider could not be asked (down, slow, too many requests in flight): nothing is known.</summary>
    Unavailable,

    /// <summary>
    /// Not asked: the client's address used up its introspections (see
    /// <see cref="IntrospectionOptions.PerClientPerMinute"/>); nothing is known, the provider is fine.
    /// <see cref="IntrospectionResult.ExpiresAt"/> is when the client may try again.
    /// </summary>
    RateLimited,
}

internal sealed record IntrospectionResult(IntrospectionOutcome Outcome, ClaimsPrincipal? Principal, DateTimeOffset ExpiresAt, string Reason);

/// <summary>The token could not be checked (provider unreachable): answered 503, not 401, because the token may be fine.</summary>
internal sealed class IntrospectionUnavailableException : Exception
{
    public IntrospectionUnavailableException()
    {
    }

    public IntrospectionUnavailableException(string message)
        : base(message)
    {
    }

    public IntrospectionUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The client's address asked for too many introspections: answered 429 with Retry-After, not 401, because the token may be fine.</summary>
internal sealed class IntrospectionRateLimitedException : Exception
{
    public IntrospectionRateLimitedException()
    {
    }

    public IntrospectionRateLimitedException(string message)
        : base(message)
    {
    }

    public IntrospectionRateLimitedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Whole seconds until the client's bucket has a token again, at least 1.</summary>
    public int RetryAfterSeconds { get; init; } = 1;
}

/// <summary>The introspection endpoint's state, for readiness.</summary>
internal sealed class IntrospectionState
{
    private string? _error;

    /// <summary>Why the last request failed; null after a successful one.</summary>
    public string? Error => Volatile.Read(ref _error);

    public void Succeeded() => Volatile.Write(ref _error, null);

    /// <summary>Records the failure; true for the first one after a success (exactly one caller sees it).</summary>
    public bool Failed(string error) => Interlocked.Exchange(ref _error, error) is null;
}

/// <summary>
/// RFC 7662 introspection of opaque tokens at the provider's introspection_endpoint (from
/// discovery), authenticating with HTTP Basic. Active results (refusals are not kept) are kept by
/// the token's SHA-256 (never the token) until the token's exp, at most <see cref="IntrospectionOptions.MaxCacheDuration"/>, for at
/// most <see cref="IntrospectionOptions.CacheSize"/> tokens; at most
/// <see cref="IntrospectionOptions.MaxConcurrent"/> requests are in flight.
/// </summary>
internal sealed class TokenIntrospector : IDisposable
{
    public const string HttpClientName = "introspection";

    private readonly IHttpClientFactory _http;
    private readonly IOptionsMonitor<JwtBearerOptions> _jwt;
    private readonly AuthOptions _options;
    private readonly IntrospectionOptions _introspection;
    private readonly TimeProvider _time;
    private readonly IntrospectionState _state;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _slots;

    // Per client address (IPv6 by /64): one client's made-up tokens cannot keep every slot busy.
    // Only cache misses take a token; a client without an address (a revalidation) is not limited.
    private readonly PartitionedRateLimiter<IPAddress?> _perClient;

    // Own cache rather than MemoryCache: entries expire by the TimeProvider (tests move it), and
    // the bound is a plain count. Key: hex SHA-256 of the token.
    private readonly ConcurrentDictionary<string, (IntrospectionResult Result, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    public TokenIntrospector(
        IHttpClientFactory http,
        IOptionsMonitor<JwtBearerOptions> jwt,
        IOptions<AuthOptions> options,
        TimeProvider time,
        IntrospectionState state,
        ILogger<TokenIntrospector> logger)
    {
        _http = http;
        _jwt = jwt;
        _options = options.Value;
        _introspection = _options.Introspection;
        _time = time;
        _state = state;
        _logger = logger;
        _slots = new SemaphoreSlim(_introspection.MaxConcurrent, _introspection.MaxConcurrent);
        _perClient = PartitionedRateLimiter.Create<IPAddress?, IPAddress>(PerClient);
    }

    private RateLimitPartition<IPAddress> PerClient(IPAddress? remote)
    {
        var bucket = ClientAddress.Bucket(remote);
        if (_introspection.PerClientPerMinute == 0 || bucket is null)
        {
            return RateLimitPartition.GetNoLimiter(IPAddress.None);
        }

        // One token every 60 s / rate: the bucket refills smoothly instead of once a minute.
        var period = TimeSpan.FromTicks(TimeSpan.TicksPerMinute / _introspection.PerClientPerMinute);
        return RateLimitPartition.GetTokenBucketLimiter(bucket, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = _introspection.PerClientBurst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    public async Task<IntrospectionResult> IntrospectAsync(string token, IPAddress? client, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(key, out var cached))
        {
            if (now < cached.Until)
            {
                return cached.Result;
            }

            _cache.TryRemove(KeyValuePair.Create(key, cached));
        }

        using (var lease = _perClient.AttemptAcquire(client))
        {
            if (!lease.IsAcquired)
            {
                var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
                return new(IntrospectionOutcome.RateLimited, null, now + wait, "too many introspections from this client");
            }
        }

        using var timeout = new CancellationTokenSource(_introspection.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        try
        {
            // The timeout (by the TimeProvider) covers the wait for a slot and the request together.
            await _slots.WaitAsync(linked.Token);
        }
        catch (OperationCanceledException)
        {
            // Busy slots or a client that went away say nothing about the provider: no outage.
            return NotAsked(cancellationToken.IsCancellationRequested ? "the request was aborted" : "too many introspections in flight");
        }

        IntrospectionResult result;
        try
        {
            result = await AskAsync(token, now, linked.Token, cancellationToken);
        }
        finally
        {
            _slots.Release();
        }

        if (result.Outcome != IntrospectionOutcome.Unavailable)
        {
            Keep(key, result, now);
        }

        return result;
    }

    private async Task<IntrospectionResult> AskAsync(string token, DateTimeOffset now, CancellationToken cancellationToken, CancellationToken aborted)
    {
        string? endpoint;
        string? issuer;
        try
        {
            var manager = _jwt.Get(JwtBearerDefaults.AuthenticationScheme).ConfigurationManager;
            var configuration = manager is null ? null : await manager.GetConfigurationAsync(cancellationToken) as OpenIdConnectConfiguration;
            endpoint = configuration?.IntrospectionEndpoint;
            issuer = configuration?.Issuer;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return NotAsked("the request was aborted");
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or HttpRequestException or IOException)
        {
            // The manager throws InvalidOperationException when discovery cannot be fetched.
            return Unavailable("discovery unavailable");
        }

        if (string.IsNullOrEmpty(endpoint))
        {
            return Unavailable("the provider's discovery document names no introspection_endpoint");
        }

        if (_options.RequireHttpsMetadata && !endpoint.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return Unavailable("the introspection endpoint is not https while Auth:RequireHttpsMetadata is true");
        }

        TokenIntrospectionResponse response;
        try
        {
            using var request = new TokenIntrospectionRequest
            {
                Address = endpoint,
                ClientId = _introspection.ClientId!,
                ClientSecret = _introspection.ClientSecret,
                ClientCredentialStyle = ClientCredentialStyle.AuthorizationHeader,
                Token = token,
                TokenTypeHint = "access_token",
            };
            response = await _http.CreateClient(HttpClientName).IntrospectTokenAsync(request, cancellationToken);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away: only our own timeout firing says the endpoint is slow.
            return NotAsked("the request was aborted");
        }
        catch (OperationCanceledException)
        {
            return Unavailable("the introspection endpoint did not answer in time");
        }

        if (response.IsError)
        {
            // Never response.Error's raw body or exception text: neither is ours to vouch for.
            return Unavailable(response.ErrorType == ResponseErrorType.Http
                ? $"the introspection endpoint answered {(int)response.HttpStatusCode}"
                : "the introspection endpoint could not be reached");
        }

        _state.Succeeded();
        if (!response.IsActive)
        {
            return new(IntrospectionOutcome.Refused, null, now + _introspection.MaxCacheDuration, "inactive token");
        }

        var identity = new ClaimsIdentity(response.Claims, "introspection", "sub", "role");
        // Endpoints such as Authentik's also call refresh tokens active.
        if (identity.FindFirst("token_type")?.Value is { } tokenType
            && !string.Equals(tokenType, "Bearer", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(tokenType, "access_token", StringComparison.OrdinalIgnoreCase))
        {
            return new(IntrospectionOutcome.Refused, null, default, "not an access token (token_type)");
        }

        if (string.Equals(identity.FindFirst("token_use")?.Value, "refresh", StringComparison.OrdinalIgnoreCase))
        {
            return new(IntrospectionOutcome.Refused, null, default, "not an access token (token_use refresh)");
        }

        var user = new ClaimsPrincipal(identity);
        if (!long.TryParse(identity.FindFirst("exp")?.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var exp))
        {
            return new(IntrospectionOutcome.Refused, null, now + _introspection.MaxCacheDuration, "no exp in the introspection response");
        }

        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(exp);
        if (expiresAt + _options.ClockSkew <= now)
        {
            return new(IntrospectionOutcome.Refused, null, now + _introspection.MaxCacheDuration, "expired token");
        }

        // iss is optional in the answer (RFC 7662 §2.2); when given it must be the provider's.
        if (identity.FindFirst("iss")?.Value is { } iss && !string.Equals(iss, issuer, StringComparison.Ordinal))
        {
            return new(IntrospectionOutcome.Refused, null, default, "the token is from another issuer");
        }

        if (long.TryParse(identity.FindFirst("nbf")?.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var nbf)
            && DateTimeOffset.FromUnixTimeSeconds(nbf) - _options.ClockSkew > now)
        {
            return new(IntrospectionOutcome.Refused, null, default, "the token is not valid yet (nbf)");
        }

        if (_options.ValidateAudience && !identity.FindAll("aud").Any(a => _options.Audiences.Contains(a.Value, StringComparer.Ordinal)))
        {
            return new(IntrospectionOutcome.Refused, null, now + _introspection.MaxCacheDuration, "the token is for another audience");
        }

        return new(IntrospectionOutcome.Active, user, expiresAt, "");
    }

    private void Keep(string key, IntrospectionResult result, DateTimeOffset now)
    {
        // Refusals are not kept: made-up tokens would fill the cache and crowd out the valid ones.
        if (result.Outcome != IntrospectionOutcome.Active)
        {
            return;
        }

        var until = now + _introspection.MaxCacheDuration;
        if (result.ExpiresAt < until)
        {
            until = result.ExpiresAt;
        }

        // Full: one entry makes room, an expired one if the first few looked at are, else the
        // first (arbitrary) one; never a scan of the whole cache per insert.
        var looked = 0;
        while (_cache.Count >= _introspection.CacheSize)
        {
            KeyValuePair<string, (IntrospectionResult Result, DateTimeOffset Until)>? victim = null;
            foreach (var entry in _cache)
            {
                victim ??= entry;
                if (entry.Value.Until <= now)
                {
                    victim = entry;
                    break;
                }

                if (++looked >= 8)
                {
                    break;
                }
            }

            if (victim is not { } evicted)
            {
                break;
            }

            _cache.TryRemove(evicted);
        }

        _cache[key] = (result, until);
    }

    /// <summary>Unavailable for this request only; the endpoint's state (readiness, warning 4008) is left alone.</summary>
    private static IntrospectionResult NotAsked(string reason) => new(IntrospectionOutcome.Unavailable, null, default, reason);

    private IntrospectionResult Unavailable(string reason)
    {
        // Said once when the endpoint stops answering, not once per refused token of a flood;
        // readiness shows the latest reason.
        if (_state.Failed(reason))
        {
            Log.IntrospectionUnavailable(_logger, reason);
        }

        return new(IntrospectionOutcome.Unavailable, null, default, reason);
    }

    public void Dispose()
    {
        _slots.Dispose();
        _perClient.Dispose();
    }
}
