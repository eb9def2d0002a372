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
    private const string Path = "/application/o/energy-ws/";

    private readonly WebApplication _app;
    private volatile SigningKey[] _published;
    private int _jwksRequests;

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
        await app.StartAsync(cancellationToken);
        provider.Issuer = app.Urls.First().TrimEnd('/') + Path;
        return provider;
    }

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
        }), "application/json");

    private IResult Jwks()
    {
        Interlocked.Increment(ref _jwksRequests);
        return !Available
            ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable)
            : Results.Text(JsonSerializer.Serialize(new { keys = _published.Select(k => k.Jwk).ToArray() }), "application/json");
    }
}
