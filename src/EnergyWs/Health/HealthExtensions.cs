using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EnergyWs.Health;

internal static class HealthExtensions
{
    internal const string ReadyTag = "ready";

    public static IHostApplicationBuilder AddHealth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks()
            .AddCheck<KafkaReadinessCheck>("kafka", tags: [ReadyTag])
            .AddCheck<LifecycleReadinessCheck>("lifecycle", tags: [ReadyTag]);

        // Waits for what readiness waits for (partitions assigned, history read back).
        if (builder.Configuration.GetValue(StartupHeapCompaction.Setting, defaultValue: true))
        {
            builder.Services.AddHostedService<StartupHeapCompaction>();
        }

        return builder;
    }

    /// <summary>/health: the process answers (liveness). /health/ready: it can do its job (readiness).</summary>
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = WriteJsonAsync,
        });
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteJsonAsync,
        });
        return endpoints;
    }

    private static async Task WriteJsonAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("status", report.Status.ToString());
        if (report.Entries.Count > 0)
        {
            writer.WriteStartObject("checks");
            foreach (var (name, entry) in report.Entries)
            {
                writer.WriteStartObject(name);
                writer.WriteString("status", entry.Status.ToString());
                if (entry.Description is { } description)
                {
                    writer.WriteString("description", description);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }
}
