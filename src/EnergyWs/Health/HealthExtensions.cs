using System.Text.Json;
using EnergyWs.Management;
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

        builder.Services.AddOptionsWithValidateOnStart<MemoryOptions>().Bind(builder.Configuration.GetSection(MemoryOptions.Section));

        // Waits for what readiness waits for (partitions assigned, history read back). Options that
        // do not bind stop startup anyway; until then they count as the default (on).
        var memory = RegistrationOptions.Bound(() => builder.Configuration.GetSection(MemoryOptions.Section).Get<MemoryOptions>());
        if (memory?.CompactAfterStart ?? true)
        {
            builder.Services.AddHostedService<StartupHeapCompaction>();
        }

        return builder;
    }

    /// <summary>
    /// /health: the process answers (liveness). /health/ready: it can do its job (readiness). The
    /// management port answers with each check's status and description; the public port says only
    /// the overall status (Healthy, Degraded or Unhealthy), since descriptions carry broker errors,
    /// topic and host names.
    /// </summary>
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder endpoints)
    {
        Map(endpoints, "/health", _ => false);
        Map(endpoints, "/health/ready", check => check.Tags.Contains(ReadyTag));
        return endpoints;
    }

    private static void Map(IEndpointRouteBuilder endpoints, string path, Func<HealthCheckRegistration, bool> predicate)
    {
        endpoints.MapHealthChecks(path, new HealthCheckOptions
        {
            Predicate = predicate,
            ResponseWriter = (context, report) => WriteJsonAsync(context, report, details: false),
        });
        endpoints.MapHealthChecks(path, new HealthCheckOptions
        {
            Predicate = predicate,
            ResponseWriter = (context, report) => WriteJsonAsync(context, report, details: true),
        }).RequireManagementPort();
    }

    private static async Task WriteJsonAsync(HttpContext context, HealthReport report, bool details)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("status", report.Status.ToString());
        if (details && report.Entries.Count > 0)
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
