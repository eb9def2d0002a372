using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace EnergyWs.Auth;

/// <summary>
/// Ready when tokens can be verified: the provider's signing keys are cached. An unreachable
/// introspection endpoint is named as degraded, not unready: JWTs and cached opaque tokens still
/// work, and taking every replica out of service over it would cut those clients off too.
/// </summary>
internal sealed class AuthReadinessCheck(SigningKeyState state, IntrospectionState introspection, IOptions<AuthOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!state.Loaded
            ? HealthCheckResult.Unhealthy($"no signing keys: tokens are refused ({state.Error})")
            : options.Value.Introspection.Enabled && introspection.Error is { } error
                ? HealthCheckResult.Degraded($"{state.KeyCount} signing keys from {state.Issuer}; introspection endpoint unavailable ({error}): opaque tokens not in the cache are refused")
                : HealthCheckResult.Healthy($"{state.KeyCount} signing keys from {state.Issuer}"));
}
