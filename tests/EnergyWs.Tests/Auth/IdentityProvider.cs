using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EnergyWs.Tests.Auth;

/// <summary>A signing key of the provider stand-in: its private key for signing and its public JWK.</summary>
internal sealed class SigningKey
{
    private SigningKey(SecurityKey key, string algorithm, Dictionary<string, string> jwk)
    {
        Key = key;
        Algorithm = algorithm;
        Jwk = jwk;
    }

    public SecurityKey Key { get; }

    public string Algorithm { get; }

    public string Kid => Key.KeyId;

    public Dictionary<string, string> Jwk { get; }

    public RSA? Rsa { get; private init; }

    public static SigningKey CreateRsa(string kid)
    {
        var rsa = RSA.Create(2048);
        var p = rsa.ExportParameters(false);
        return new SigningKey(new RsaSecurityKey(rsa) { KeyId = kid }, SecurityAlgorithms.RsaSha256, new()
        {
            ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = kid,
            ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent),
        })
        { Rsa = rsa };
    }

    public static SigningKey CreateEc(string kid)
    {
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = ec.ExportParameters(false);
        return new SigningKey(new ECDsaSecurityKey(ec) { KeyId = kid }, SecurityAlgorithms.EcdsaSha256, new()
        {
            ["kty"] = "EC", ["use"] = "sig", ["alg"] = "ES256", ["kid"] = kid, ["crv"] = "P-256",
            ["x"] = Base64UrlEncoder.Encode(p.Q.X), ["y"] = Base64UrlEncoder.Encode(p.Q.Y),
        });
    }
}

/// <summary>
/// The identity provider stand-in: OIDC discovery and a JWKS served by Kestrel on loopback, laid
/// out like Authentik (/application/o/energy-ws/). Its published keys can be swapped (rotation),
/// it can answer 503 (unavailable) or be stopped (down). Every token it makes is remembered, so
/// tests can check that none reached the logs.
/// </summary>
internal sealed class IdentityProvider : IAsyncDisposable
{
    public const string Audience = "energy-ws-client";

    /// <summary>The client energy-ws introspects as (HTTP Basic at the introspection endpoint).</summary>
    public const string IntrospectionClientId = "energy-ws-introspect";
    public const string IntrospectionSecret = "intro:spection/secret+1";
    private const string Path = "/application/o/energy-ws/";

    private readonly WebApplication _app;
    private volatile SigningKey[] _published;
    private int _jwksRequests;
    private int _introspections;
    private int _inFlight;
    private int _maxInFlight;
    private readonly ConcurrentDictionary<string, (string Subject, DateTimeOffset Expires, string Audience)> _opaque = new(StringComparer.Ordinal);

    private IdentityProvider(WebApplication app, SigningKey[] keys)
    {
        _app = app;
        _published = keys;
        Rsa = keys[0];
        Ec = keys[1];
    }

    public SigningKey Rsa { get; }

    public SigningKey Ec { get; }

    public string Issuer { get; private set; } = "";

    /// <summary>False: discovery and JWKS answer 503.</summary>
    public bool Available { get; set; } = true;

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>Introspection requests answered (with valid client credentials or not).</summary>
    public int Introspections => Volatile.Read(ref _introspections);

    /// <summary>Introspection requests being answered now, and the most there ever were at once.</summary>
    public int IntrospectionsInFlight => Volatile.Read(ref _inFlight);

    public int MaxIntrospectionsInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>While set, introspection requests wait for it before answering (a slow provider).</summary>
    public TaskCompletionSource? IntrospectionGate { get; set; }

    /// <summary>Every token and handmade token string used against the service.</summary>
    public ConcurrentBag<string> Issued { get; } = [];

    public static async Task<IdentityProvider> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var provider = new IdentityProvider(app, [SigningKey.CreateRsa("rsa-1"), SigningKey.CreateEc("ec-1")]);
        app.MapGet(Path + ".well-known/openid-configuration", provider.Discovery);
        app.MapGet(Path + "jwks/", provider.Jwks);
        app.MapPost(Path + "introspect/", (Delegate)provider.IntrospectAsync);
        await app.StartAsync(cancellationToken);
        provider.Issuer = app.Urls.First().TrimEnd('/') + Path;
        return provider;
    }

    /// <summary>An opaque access token (random, not a JWT) that introspection reports active until it expires or is revoked.</summary>
    public string IssueOpaque(string subject = "user-1", TimeSpan? lifetime = null, string audience = Audience)
    {
        var token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        _opaque[token] = (subject, DateTimeOffset.UtcNow + (lifetime ?? TimeSpan.FromMinutes(5)), audience);
        Issued.Add(token);
        return token;
    }

    /// <summary>token_type answered by introspection for a token (Bearer when absent).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, string> TokenTypes { get; } = new(StringComparer.Ordinal);

    /// <summary>Members of the introspection answer replaced for a token (iss, nbf, exp, …).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, Dictionary<string, object>> Overrides { get; } = new(StringComparer.Ordinal);

    /// <summary>A made-up opaque token the provider never issued.</summary>
    public string UnknownOpaque() => Remember(Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32)));

    /// <summary>Revokes an opaque token: introspection answers active:false from now on.</summary>
    public void Revoke(string token) => _opaque.TryRemove(token, out _);

    /// <summary>Replaces the keys in the JWKS.</summary>
    public void Publish(params SigningKey[] keys) => _published = keys;

    public Task StopAsync() => _app.StopAsync();

    public string CreateToken(SigningKey key, Action<SecurityTokenDescriptor>? customize = null, bool setDefaultTimes = true)
    {
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Subject = new ClaimsIdentity([new Claim("sub", "user-1"), new Claim("preferred_username", "meter-viewer")]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(key.Key, key.Algorithm),
        };
        customize?.Invoke(descriptor);
        var token = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = setDefaultTimes }.CreateToken(descriptor);
        Issued.Add(token);
        return token;
    }

    /// <summary>
    /// A token shaped like the one the named provider issues: its header typ, claims, audience and
    /// scope form. <paramref name="edit"/> changes claims after the shape is laid out (null removes one).
    /// </summary>
    public string Mint(TokenShape shape, Action<Dictionary<string, object?>>? edit = null, TimeSpan? lifetime = null, SigningKey? key = null)
    {
        var now = DateTimeOffset.UtcNow;
        var (typ, claims) = Shapes.Of(shape, now);
        edit?.Invoke(claims);
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + (lifetime ?? TimeSpan.FromMinutes(5))).UtcDateTime,
            TokenType = typ,
            Claims = claims.Where(c => c.Value is not null).ToDictionary(c => c.Key, c => c.Value!),
            SigningCredentials = new SigningCredentials((key ?? Rsa).Key, (key ?? Rsa).Algorithm),
        };
        var token = new JsonWebTokenHandler().CreateToken(descriptor);
        Issued.Add(token);
        return token;
    }

    /// <summary>Records a handmade token so the log check looks for it too.</summary>
    public string Remember(string token)
    {
        Issued.Add(token);
        return token;
    }

    public static string Base64Url(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private IResult Discovery() => !Available
        ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable)
        : Results.Text(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["issuer"] = Issuer,
            ["jwks_uri"] = Issuer + "jwks/",
            ["authorization_endpoint"] = Issuer.Replace(Path, "/application/o/authorize/", StringComparison.Ordinal),
            ["token_endpoint"] = Issuer.Replace(Path, "/application/o/token/", StringComparison.Ordinal),
            ["id_token_signing_alg_values_supported"] = new[] { "RS256", "ES256" },
            ["introspection_endpoint"] = Issuer + "introspect/",
        }), "application/json");

    /// <summary>RFC 7662: client authentication by HTTP Basic (RFC 6749 §2.3.1 form-encoding), the token in the form.</summary>
    private async Task<IResult> IntrospectAsync(HttpContext context)
    {
        Interlocked.Increment(ref _introspections);
        var now = Interlocked.Increment(ref _inFlight);
        for (var max = Volatile.Read(ref _maxInFlight); now > max && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max; max = Volatile.Read(ref _maxInFlight))
        {
        }

        try
        {
            if (IntrospectionGate is { } gate)
            {
                // Like any server, it stops working on a request its client gave up on.
                await gate.Task.WaitAsync(context.RequestAborted);
            }

            if (!Available)
            {
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }

            if (!BasicCredentials(context.Request.Headers.Authorization.ToString(), out var id, out var secret) ||
                id != IntrospectionClientId || secret != IntrospectionSecret)
            {
                return Results.Json(new Dictionary<string, string> { ["error"] = "invalid_client" }, statusCode: StatusCodes.Status401Unauthorized);
            }

            var form = await context.Request.ReadFormAsync();
            var token = form["token"].ToString();
            if (!_opaque.TryGetValue(token, out var grant) || grant.Expires <= DateTimeOffset.UtcNow)
            {
                return Results.Text("{\"active\":false}", "application/json");
            }

            var answer = new Dictionary<string, object>
            {
                ["active"] = true,
                ["iss"] = Issuer,
                ["sub"] = grant.Subject,
                ["client_id"] = "energy-ws-dashboard",
                ["aud"] = grant.Audience,
                ["scope"] = "openid profile energy:read",
                ["token_type"] = TokenTypes.TryGetValue(token, out var tokenType) ? tokenType : "Bearer",
                ["iat"] = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(),
                ["exp"] = grant.Expires.ToUnixTimeSeconds(),
            };
            foreach (var (name, value) in Overrides.TryGetValue(token, out var overrides) ? overrides : [])
            {
                answer[name] = value;
            }

            return Results.Text(JsonSerializer.Serialize(answer), "application/json");
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>RFC 6749 §2.3.1: id and secret are form-encoded, then joined by ':' and base64-encoded.</summary>
    private static bool BasicCredentials(string header, out string id, out string secret)
    {
        (id, secret) = ("", "");
        if (!header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return false;
        }

        var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..])).Split(':');
        if (pair.Length != 2)
        {
            return false;
        }

        (id, secret) = (WebUtility.UrlDecode(pair[0]), WebUtility.UrlDecode(pair[1]));
        return true;
    }

    private IResult Jwks()
    {
        Interlocked.Increment(ref _jwksRequests);
        return !Available
            ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable)
            : Results.Text(JsonSerializer.Serialize(new { keys = _published.Select(k => k.Jwk).ToArray() }), "application/json");
    }
}

/// <summary>Access, ID and machine (client_credentials) tokens of three providers.</summary>
public enum TokenShape
{
    AuthentikAccess, AuthentikId, AuthentikMachine,
    KeycloakAccess, KeycloakId, KeycloakMachine,
    AutheliaAccess, AutheliaId, AutheliaMachine,
}

/// <summary>
/// The claims each provider puts in its tokens, from their sources and documentation:
/// Authentik (providers/oauth2/id_token.py: the access token is the ID token's claims plus azp
/// and uid, header typ JWT, no scope claim, aud the client id, the client's nonce copied in);
/// Keycloak (header typ JWT, a typ claim Bearer or ID, azp, scope string, aud a list from
/// audience mappers, nonce in access tokens before 24; lightweight machine tokens without sub);
/// Authelia with JWT access tokens (RFC 9068: header typ at+jwt, client_id, jti, scope string).
/// </summary>
internal static class Shapes
{
    public const string Client = IdentityProvider.Audience;

    /// <summary>The audience a Keycloak audience mapper adds for this service.</summary>
    public const string KeycloakAudience = "energy-ws";

    public static (string Typ, Dictionary<string, object?> Claims) Of(TokenShape shape, DateTimeOffset now)
    {
        var authTime = now.AddMinutes(-1).ToUnixTimeSeconds();
        var hashedUid = "5f6a8c1d2e3b4a59687766554433221100ffeeddccbbaa998877665544332211";
        return shape switch
        {
            TokenShape.AuthentikAccess => ("JWT", Authentik(hashedUid, authTime, access: true)),
            TokenShape.AuthentikId => ("JWT", Authentik(hashedUid, authTime, access: false)),
            TokenShape.AuthentikMachine => ("JWT", new()
            {
                ["sub"] = "9c1e0f2a7b3d4c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6",
                ["aud"] = Client, ["auth_time"] = now.ToUnixTimeSeconds(), ["acr"] = "goauthentik.io/providers/oauth2/default",
                ["preferred_username"] = "ak-energy-ws-exporter-client_credentials", ["groups"] = Array.Empty<string>(),
                ["azp"] = Client, ["uid"] = "Kx3nQ0bWm5p2a8Zt",
            }),
            TokenShape.KeycloakAccess => ("JWT", new()
            {
                ["jti"] = "onrtac:5b1d3c2e-8f41-4d7a-9e3a-0c6b2f7d1a90", ["aud"] = new[] { KeycloakAudience, "account" },
                ["sub"] = "2f1e6b0c-3a4d-4e5f-8a9b-0c1d2e3f4a5b", ["typ"] = "Bearer", ["azp"] = Client,
                ["nonce"] = "n-0S6_WzA2Mj", ["sid"] = "7d0c1f9e-2b3a-4c5d-9e8f-1a2b3c4d5e6f", ["acr"] = "1",
                ["allowed-origins"] = new[] { "https://energy.example.com" }, ["scope"] = "openid profile email",
                ["email_verified"] = true, ["preferred_username"] = "meter-viewer", ["auth_time"] = authTime,
            }),
            TokenShape.KeycloakId => ("JWT", new()
            {
                ["jti"] = "ofrtac:0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d", ["aud"] = Client,
                ["sub"] = "2f1e6b0c-3a4d-4e5f-8a9b-0c1d2e3f4a5b", ["typ"] = "ID", ["azp"] = Client,
                ["nonce"] = "n-0S6_WzA2Mj", ["sid"] = "7d0c1f9e-2b3a-4c5d-9e8f-1a2b3c4d5e6f", ["at_hash"] = "77QmUPtjPfzWtF2AnpK9RQ",
                ["acr"] = "1", ["email_verified"] = true, ["preferred_username"] = "meter-viewer", ["auth_time"] = authTime,
            }),
            TokenShape.KeycloakMachine => ("JWT", new()
            {
                ["jti"] = "trrtcc:3c2b1a09-8f7e-4d6c-5b4a-39281706f5e4", ["aud"] = KeycloakAudience, ["typ"] = "Bearer",
                ["azp"] = "energy-ws-exporter", ["client_id"] = "energy-ws-exporter", ["scope"] = "profile email",
            }),
            TokenShape.AutheliaAccess => ("at+jwt", new()
            {
                ["sub"] = "c3f1a2b4-5d6e-4f70-8192-a3b4c5d6e7f8", ["aud"] = new[] { Client }, ["client_id"] = Client,
                ["jti"] = "1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0", ["scope"] = "openid profile offline_access",
            }),
            TokenShape.AutheliaId => ("JWT", new()
            {
                ["sub"] = "c3f1a2b4-5d6e-4f70-8192-a3b4c5d6e7f8", ["aud"] = new[] { Client }, ["azp"] = Client,
                ["jti"] = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", ["auth_time"] = authTime, ["amr"] = new[] { "pwd", "kba" },
                ["nonce"] = "n-0S6_WzA2Mj", ["at_hash"] = "HK6E_P6Dh8Y93mRNtsDB1Q",
            }),
            TokenShape.AutheliaMachine => ("at+jwt", new()
            {
                ["sub"] = "energy-ws-exporter", ["aud"] = new[] { Client }, ["client_id"] = "energy-ws-exporter",
                ["jti"] = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", ["scope"] = "energy:read",
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };
    }

    private static Dictionary<string, object?> Authentik(string sub, long authTime, bool access)
    {
        var claims = new Dictionary<string, object?>
        {
            ["sub"] = sub, ["aud"] = Client, ["auth_time"] = authTime, ["acr"] = "goauthentik.io/providers/oauth2/default",
            ["amr"] = new[] { "pwd" }, ["nonce"] = "n-0S6_WzA2Mj", ["sid"] = "4b1f0e7a9c2d8e3f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
            ["email"] = "viewer@example.com", ["email_verified"] = true, ["name"] = "Meter Viewer",
            ["preferred_username"] = "meter-viewer", ["nickname"] = "meter-viewer", ["groups"] = new[] { "energy-viewers" },
        };
        if (access)
        {
            claims["azp"] = Client;
            claims["uid"] = "bT9kR2xQ7mN4pL8s";
        }
        else
        {
            claims["at_hash"] = "bV3XhZ7m1w5sFQ2pYk9T0g";
        }

        return claims;
    }
}
