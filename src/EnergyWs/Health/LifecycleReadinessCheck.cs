using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EnergyWs.Health;

/// <summary>Red as soon as shutdown begins, so the load balancer stops sending new clients.</summary>
internal sealed class LifecycleReadinessCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("stopping")
            : HealthCheckResult.Healthy("running"));
}
