using EnergyWs.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace EnergyWs.Health;

/// <summary>
/// Ready when the consumer holds every partition of its topics, has rebuilt history and the broker
/// answered recently. A topic that does not exist while others are read is Degraded (still ready):
/// the others keep streaming, and restarting the pod would not create it.
/// </summary>
internal sealed class KafkaReadinessCheck(ConsumerState state, KafkaTopics topics, IOptions<KafkaOptions> options) : IHealthCheck
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
            var names = string.Join("; ", waiting.GroupBy(w => w.Key.Topic, StringComparer.Ordinal).Select(topic =>
                $"{topic.Key} partition{(topic.Count() == 1 ? "" : "s")} {string.Join(", ", topic.Select(w => w.Key.Partition))}"));
            result = HealthCheckResult.Unhealthy($"waiting for {names} to be assigned" + Detail(waiting[^1].Value));
        }
        else if (!state.Assigned)
        {
            result = HealthCheckResult.Unhealthy($"not assigned to {topics} yet" + Detail(state.LastError));
        }
        else if (state.BrokersDown)
        {
            result = HealthCheckResult.Unhealthy("broker unreachable" + Detail(state.LastError));
        }
        else if (state.Replaying)
        {
            // Clients connecting now would miss the part of history not read back yet.
            result = HealthCheckResult.Unhealthy($"rebuilding history from {topics}");
        }
        else if (since is null || since > staleAfter)
        {
            result = HealthCheckResult.Unhealthy($"no answer from the broker for {since?.TotalSeconds:0.#} s");
        }
        else if (state.UnavailableTopics is { Count: > 0 } unavailable)
        {
            result = HealthCheckResult.Degraded(
                $"consuming {string.Join(", ", topics.Names.Where(t => !unavailable.Any(u => u.Key == t)))}; " +
                $"topic{(unavailable.Count == 1 ? "" : "s")} {string.Join(", ", unavailable.Select(u => u.Key))} unavailable" + Detail(unavailable[^1].Value));
        }
        else
        {
            result = HealthCheckResult.Healthy($"consuming {topics}");
        }

        return Task.FromResult(result);
    }

    private static string Detail(string? error) => error is null ? "" : $": {error}";
}
