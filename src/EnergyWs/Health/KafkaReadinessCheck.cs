using EnergyWs.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace EnergyWs.Health;

/// <summary>Ready when the consumer holds every partition of the topic, has rebuilt history and the broker answered recently.</summary>
internal sealed class KafkaReadinessCheck(ConsumerState state, IOptions<KafkaOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Three missed probes in a row means the broker is gone, not merely slow.
        var staleAfter = options.Value.ProbeInterval * 3;
        var since = state.SinceLastContact;
        HealthCheckResult result;
        var waiting = state.Unassigned;
        if (waiting.Count > 0)
        {
            // A partition that is listed but not read loses its readings for every client.
            var names = string.Join(", ", waiting.Select(w => w.Key));
            result = HealthCheckResult.Unhealthy($"waiting for {options.Value.Topic} partition{(waiting.Count == 1 ? "" : "s")} {names} to be assigned" + Detail(waiting[^1].Value));
        }
        else if (!state.Assigned)
        {
            result = HealthCheckResult.Unhealthy($"not assigned to {options.Value.Topic} yet" + Detail(state.LastError));
        }
        else if (state.BrokersDown)
        {
            result = HealthCheckResult.Unhealthy("broker unreachable" + Detail(state.LastError));
        }
        else if (state.Replaying)
        {
            // Clients connecting now would miss the part of history not read back yet.
            result = HealthCheckResult.Unhealthy($"rebuilding history from {options.Value.Topic}");
        }
        else if (since is null || since > staleAfter)
        {
            result = HealthCheckResult.Unhealthy($"no answer from the broker for {since?.TotalSeconds:0.#} s");
        }
        else
        {
            result = HealthCheckResult.Healthy($"consuming {options.Value.Topic}");
        }

        return Task.FromResult(result);
    }

    private static string Detail(string? error) => error is null ? "" : $": {error}";
}
