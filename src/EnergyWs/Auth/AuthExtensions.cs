using System.Globalization;
using System.Net.Http;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Tokens;

namespace EnergyWs.Auth;

internal static class AuthExtensions
{
    /// <summary>The policy /ws requires: a valid bearer token, or nothing when authentication is off.</summary>
    public const string ClientPolicy = "ws-client";

    /// <summary>Tells JWTs (JWS or JWE compact form) from opaque tokens; reads the format only.</summary>
    private static readonly Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler Jwt = new();

    /// <summary>Asymmetric algorithms only: never "none", never HMAC (whose secret would be the public key).</summary>
    private static readonly string[] Algorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    /// <summary>Header typ values accepted when RFC 9068's at+jwt is not required (absent is accepted too).</summary>
    private static readonly string[] AcceptedTypes = ["JWT", "at+jwt", "application/at+jwt"];

    public static IHostApplicationBuilder AddAuth(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        var section = builder.Configuration.GetSection(AuthOptions.Section);
        services.AddOptionsWithValidateOnStart<AuthOptions>().Bind(section).Configure(options =>
        {
            // The list form (Auth:Audience:0, :1, …) has no value of its own for the string to bind.
            var list = section.GetSection(nameof(AuthOptions.Audience)).GetChildren().Select(c => c.Value).Where(v => !string.IsNullOrWhiteSpace(v)).ToArray();
            if (list.Length > 0)
            {
                options.Audience = string.Join(',', list);
            }
        });
        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsRules>();
        RedactTokensInRequestLogs(services);
        services.AddSingleton<OriginCheck>();

        var enabled = section.GetValue(nameof(AuthOptions.Enabled), defaultValue: true);
        var hasAuthority = !string.IsNullOrWhiteSpace(section[nameof(AuthOptions.Authority)]);
        var authentication = AddAuthenticationWithoutDataProtection(services);
        if (!enabled || !hasAuthority)
        {
            // Without an authority outside Development, the options validator stops startup instead.
            var why = !enabled ? "Auth:Enabled is false" : "Development without Auth:Authority";
            services.AddAuthorizationBuilder().AddPolicy(ClientPolicy, policy => policy.RequireAssertion(static _ => true));
            services.AddHostedService(sp => new AuthOffAnnouncer(why, sp.GetRequiredService<StreamCatalog>(), sp.GetRequiredService<ILogger<AuthOffAnnouncer>>()));
            services.AddSingleton(sp => new StreamAccess(sp.GetRequiredService<StreamCatalog>(), authenticated: false));
            return builder;
        }

        // The only scheme would otherwise be the default, and authentication (which WebApplication
        // adds on its own) would validate or introspect a bearer token on every request: /health,
        // /metrics, unknown paths. Without a default, only the client policy (/ws, /api/readings),
        // which names the scheme, authenticates.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        authentication.AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<IOptions<AuthOptions>>(ConfigureJwtBearer);
        // Runs after the handler's own post-configuration, which creates the configuration manager.
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).PostConfigure(static options =>
        {
            if (options.ConfigurationManager is BaseConfigurationManager manager)
            {
                // A key that left the JWKS must stop working; the last-known-good fallback would
                // keep accepting it for up to an hour.
                manager.UseLastKnownGoodConfiguration = false;
            }
        });
        services.AddAuthorizationBuilder().AddPolicy(ClientPolicy, policy => policy
            .AddAuthenticationSchemes(JwtBearerDefaults.AuthenticationScheme)
            .RequireAuthenticatedUser());

        services.AddHostedService<AuthWarnings>();
        services.AddSingleton(sp => new StreamAccess(sp.GetRequiredService<StreamCatalog>(), authenticated: true));
        services.AddSingleton<TokenRevalidator>();
        services.AddSingleton<SigningKeyState>();
        services.AddSingleton<IntrospectionState>();
        services.AddSingleton<TokenIntrospector>();
        // A redirect would send the client credentials and the token to wherever it points; an
        // answer is a small JSON object, so a large one is refused, not buffered.
        services.AddHttpClient(TokenIntrospector.HttpClientName)
            .ConfigureHttpClient(static client => client.MaxResponseContentBufferSize = 64 * 1024)
            .ConfigurePrimaryHttpMessageHandler(static () => new SocketsHttpHandler { AllowAutoRedirect = false });
        services.AddHostedService<SigningKeyRefresher>();
        services.AddHealthChecks().AddCheck<AuthReadinessCheck>("auth", tags: [Health.HealthExtensions.ReadyTag]);
        return builder;
    }

    /// <summary>
    /// What AddAuthentication registers, less ASP.NET Core Data Protection, which nothing here uses
    /// (no cookies, no antiforgery, no protected payloads): its key ring would be built at start,
    /// loading XML and crypto code and writing a key file under the home directory, and the Native
    /// AOT binary would carry all of it (~4 MB of resident memory, measured).
    /// </summary>
    private static AuthenticationBuilder AddAuthenticationWithoutDataProtection(IServiceCollection services)
    {
        services.AddAuthenticationCore();
        services.AddWebEncoders();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IAuthenticationConfigurationProvider, AuthenticationSection>();
        return new AuthenticationBuilder(services);
    }

    /// <summary>The "Authentication" configuration section, which scheme options may also be bound from.</summary>
    private sealed class AuthenticationSection(IConfiguration configuration) : IAuthenticationConfigurationProvider
    {
        public IConfiguration AuthenticationConfiguration { get; } = configuration.GetSection("Authentication");
    }

    /// <summary>Origin check, then authentication and authorization; after UseStreaming.</summary>
    public static IApplicationBuilder UseAuth(this IApplicationBuilder app)
    {
        // Options are read on the first request, not here: an invalid setting must surface at
        // start through options validation, with its one-line message.
        app.Use(async (context, next) =>
        {
            if (context.RequestServices.GetRequiredService<OriginCheck>().Allows(context))
            {
                await next(context);
            }
        });
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    private static void ConfigureJwtBearer(JwtBearerOptions jwt, IOptions<AuthOptions> authOptions)
    {
        var options = authOptions.Value;
        jwt.Authority = options.Authority;
        jwt.RequireHttpsMetadata = options.RequireHttpsMetadata;
        jwt.MapInboundClaims = false;
        jwt.RefreshOnIssuerKeyNotFound = true;
        jwt.RefreshInterval = options.KeyRefreshMinimumInterval;
        // The manager's own schedule has a 5-minute floor; SigningKeyRefresher adds the configured one.
        jwt.AutomaticRefreshInterval = options.KeyRefreshInterval < BaseConfigurationManager.MinimumAutomaticRefreshInterval
            ? BaseConfigurationManager.MinimumAutomaticRefreshInterval
            : options.KeyRefreshInterval;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            // The issuer comes from the discovery document; the keys from its jwks_uri.
            ValidateIssuer = true,
            ValidateAudience = options.ValidateAudience,
            ValidAudiences = options.Audiences,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidAlgorithms = Algorithms,
            ClockSkew = options.ClockSkew,
        };
        if (options.RequireAccessTokenType)
        {
            // RFC 9068 §4: the header's typ; ID tokens and other JWTs of the provider fail here.
            jwt.TokenValidationParameters.ValidTypes = ["at+jwt", "application/at+jwt"];
        }
        else
        {
            // Absent, JWT, or an access token's type; not logout+jwt or other typed JWTs of the provider.
            jwt.TokenValidationParameters.TypeValidator = static (type, _, _) =>
                string.IsNullOrEmpty(type) || AcceptedTypes.Contains(type, StringComparer.OrdinalIgnoreCase)
                    ? type ?? ""
                    : throw new SecurityTokenInvalidTypeException("the token's typ header is not JWT or at+jwt");
        }

        var skew = options.ClockSkew;
        jwt.Events = new JwtBearerEvents
        {
            OnMessageReceived = async context =>
            {
                var token = BearerToken.Find(context.Request);
                if (token is { Length: > BearerToken.MaxLength })
                {
                    context.Fail("token too long");
                }
                else if (token is not null && options.Introspection.Enabled && !Jwt.CanReadToken(token))
                {
                    await IntrospectAsync(context, token, options, skew);
                }
                else
                {
                    context.Token = token;
                }
            },
            OnTokenValidated = context =>
            {
                if (TokenRules.Check(context.Principal!, options, rfc9068Claims: true, out var principal) is { } refusal)
                {
                    context.Fail(refusal);
                }
                else if (context.SecurityToken is { ValidTo: var validTo } && validTo != DateTime.MinValue)
                {
                    var expires = new DateTimeOffset(validTo, TimeSpan.Zero);
                    context.HttpContext.Features.Set(new TokenSession(principal, expires, expires + skew, TokenRules.Scopes(context.Principal!)));
                }
                else
                {
                    // A connection without an expiry would never close: fail closed.
                    context.Fail("no expiry in the token");
                }

                return Task.CompletedTask;
            },
            OnChallenge = context =>
            {
                var services = context.HttpContext.RequestServices;
                if (context.AuthenticateFailure is IntrospectionRateLimitedException limited)
                {
                    // Not a verdict on the token: the client may retry with it once its bucket refills.
                    services.GetRequiredService<StreamingMetrics>().Rejected("rejected_rate");
                    Log.Refused(services.GetRequiredService<ILogger<AuthOptions>>(), Remote(context.HttpContext), "introspection rate limited", limited.Message);
                    context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                    context.Response.Headers.RetryAfter = limited.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                    context.HandleResponse();
                    return Task.CompletedTask;
                }

                if (context.AuthenticateFailure is IntrospectionUnavailableException)
                {
                    // The token was not found bad, it could not be checked: a client should retry
                    // with the same token, not throw it away (RFC 9110 §15.6.4).
                    services.GetRequiredService<StreamingMetrics>().Rejected("rejected_auth");
                    Log.Refused(services.GetRequiredService<ILogger<AuthOptions>>(), Remote(context.HttpContext), "introspection unavailable", context.AuthenticateFailure.Message);
                    context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    context.Response.Headers.RetryAfter = "5";
                    context.HandleResponse();
                    return Task.CompletedTask;
                }

                services.GetRequiredService<StreamingMetrics>().Rejected("rejected_auth");
                // The reason only: exception messages hide token contents (IdentityModel PII logging stays off).
                Log.Refused(
                    services.GetRequiredService<ILogger<AuthOptions>>(),
                    Remote(context.HttpContext),
                    context.AuthenticateFailure is null ? "no token" : "invalid_token",
                    Describe(context.AuthenticateFailure));
                return Task.CompletedTask;
            },
        };
    }

    /// <summary>
    /// An opaque token: asked of the provider (RFC 7662) instead of verified locally; an active one
    /// for us passes the same <see cref="TokenRules"/> as a JWT.
    /// </summary>
    private static async Task IntrospectAsync(MessageReceivedContext context, string token, AuthOptions options, TimeSpan skew)
    {
        var introspector = context.HttpContext.RequestServices.GetRequiredService<TokenIntrospector>();
        var result = await introspector.IntrospectAsync(token, context.HttpContext.Connection.RemoteIpAddress, context.HttpContext.RequestAborted);
        switch (result.Outcome)
        {
            case IntrospectionOutcome.RateLimited:
                var seconds = Math.Max(1, (int)Math.Ceiling((result.ExpiresAt - context.HttpContext.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow()).TotalSeconds));
                context.Fail(new IntrospectionRateLimitedException(result.Reason) { RetryAfterSeconds = seconds });
                return;
            case IntrospectionOutcome.Unavailable:
                context.Fail(new IntrospectionUnavailableException(result.Reason));
                return;
            case IntrospectionOutcome.Refused:
                context.Fail(result.Reason);
                return;
        }

        if (TokenRules.Check(result.Principal!, options, rfc9068Claims: false, out var principal) is { } refusal)
        {
            context.Fail(refusal);
            return;
        }

        context.HttpContext.Features.Set(new TokenSession(principal, result.ExpiresAt, result.ExpiresAt + skew, TokenRules.Scopes(result.Principal!)));
        // A copy: the cached principal is shared by every request with this token, and handlers may add identities or claims.
        context.Principal = result.Principal!.Clone();
        context.Success();
    }

    /// <summary>
    /// The failure's kind; for our own rules (<see cref="TokenRules"/>) its words, which never quote
    /// the token. IdentityModel's messages are not used: they may carry token contents.
    /// </summary>
    internal static string Describe(Exception? failure) => failure switch
    {
        null => "",
        AuthenticationFailureException or IntrospectionUnavailableException or IntrospectionRateLimitedException => failure.Message,
        _ => failure.GetType().Name,
    };

    private static string Remote(HttpContext context) => $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";

    private static void RedactTokensInRequestLogs(IServiceCollection services)
    {
        // The factory is built from the providers registered by the time the container is built,
        // so providers added later (tests, hosting integrations) are covered too.
        services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(sp => new RedactingLoggerFactory(new LoggerFactory(
            sp.GetServices<ILoggerProvider>(),
            sp.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
            sp.GetService<IOptions<LoggerFactoryOptions>>(),
            sp.GetService<IExternalScopeProvider>()))));
    }

    /// <summary>Settings that weaken token checks, said once at start.</summary>
    private sealed class AuthWarnings(IOptions<AuthOptions> options, ILogger<AuthWarnings> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (!options.Value.ValidateAudience)
            {
                Log.AudienceNotChecked(logger);
            }

            // http is for a provider on the same host (a test stand-in, a sidecar); across a network
            // anyone on the path could swap the signing keys or answer introspections.
            if (!options.Value.RequireHttpsMetadata
                && Uri.TryCreate(options.Value.Authority, UriKind.Absolute, out var authority)
                && authority.Scheme == Uri.UriSchemeHttp
                && !authority.IsLoopback)
            {
                Log.MetadataInClear(logger, authority.GetLeftPart(UriPartial.Authority));
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class AuthOffAnnouncer(string why, StreamCatalog catalog, ILogger logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            Log.AuthenticationOff(logger, why);
            // A Scope reads as protection in the configuration; say that it protects nothing now.
            var scoped = catalog.Streams.Where(s => s.Scope is not null).Select(s => s.Name).ToList();
            if (scoped.Count > 0)
            {
                Log.StreamScopesIgnored(logger, string.Join(", ", scoped));
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
