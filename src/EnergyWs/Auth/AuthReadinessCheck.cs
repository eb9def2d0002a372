using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EnergyWs.Auth;

/// <summary>Ready when tokens can be verified: the provider's signing keys are cached.</summary>
internal sealed class AuthReadinessCheck(SigningKeyState state) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.Loaded
            ? HealthCheckResult.Healthy($"{state.KeyCount} signing keys from {state.Issuer}")
            : HealthCheckResult.Unhealthy($"no signing keys: tokens are refused ({state.Error})"));
}
