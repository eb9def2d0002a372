using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace EnergyWs.Auth;

/// <summary>What the service knows about the provider's signing keys, for readiness.</summary>
internal sealed class SigningKeyState
{
    private volatile Snapshot _current = new(0, null, "not fetched yet");

    public int KeyCount => _current.KeyCount;

    public string? Issuer => _current.Issuer;

    public string? Error => _current.Error;

    /// <summary>Tokens can be verified: at least one key is cached.</summary>
    public bool Loaded => _current.KeyCount > 0;

    public void Set(int keyCount, string issuer) => _current = new(keyCount, issuer, keyCount > 0 ? null : "the key set is empty");

    public void Failed(string error)
    {
        // Cached keys stay in use after a failed refresh; only an empty cache reports the error.
        if (!Loaded)
        {
            _current = _current with { Error = error };
        }
    }

    private sealed record Snapshot(int KeyCount, string? Issuer, string? Error);
}

/// <summary>
/// Fetches the provider's discovery document and keys at start, without holding up startup, and
/// again every <see cref="AuthOptions.KeyRefreshInterval"/>. The handler's configuration manager
/// does the fetching and caching (and the rate-limited refresh on an unknown kid); this loop only
/// makes it happen before the first client and on a schedule, and reports the outcome.
/// </summary>
internal sealed class SigningKeyRefresher(
    IOptionsMonitor<JwtBearerOptions> jwtOptions,
    IOptions<AuthOptions> options,
    SigningKeyState state,
    TimeProvider time,
    ILogger<SigningKeyRefresher> logger) : BackgroundService
{
    /// <summary>Retry period while no key has ever loaded; the manager's own backoff bounds the actual fetches.</summary>
    private static readonly TimeSpan BootstrapRetry = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var manager = jwtOptions.Get(JwtBearerDefaults.AuthenticationScheme).ConfigurationManager;
        if (manager is null)
        {
            return;
        }

        var address = (manager as ConfigurationManager<OpenIdConnectConfiguration>)?.MetadataAddress ?? "";
        OpenIdConnectConfiguration? last = null;
        string? lastError = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (last is not null)
                {
                    manager.RequestRefresh();
                }

                var configuration = await manager.GetConfigurationAsync(stoppingToken);
                var keyCount = configuration.SigningKeys.Count;
                if (last is null)
                {
                    Log.KeysLoaded(logger, address, keyCount, configuration.Issuer ?? "");
                }
                else if (!ReferenceEquals(configuration, last))
                {
                    Log.KeysRefreshed(logger, address, keyCount);
                }

                state.Set(keyCount, configuration.Issuer ?? "");
                last = configuration;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Only reachable before the first successful fetch: afterwards the manager keeps
                // serving its cached keys when the provider is unreachable.
                var error = ex.GetBaseException().Message;
                state.Failed(error);
                if (error != lastError)
                {
                    Log.KeysUnavailable(logger, address, error);
                    lastError = error;
                }
            }

            try
            {
                await Task.Delay(state.Loaded ? options.Value.KeyRefreshInterval : BootstrapRetry, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
