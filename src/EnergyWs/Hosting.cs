using Microsoft.Extensions.Options;

namespace EnergyWs;

internal static partial class Hosting
{
    /// <summary>Process-wide settings: time source, shutdown budget.</summary>
    public static IHostApplicationBuilder AddHosting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);

        // CreateSlimBuilder registers only the simple console formatter, so the built-in setting
        // Logging:Console:FormatterName=json would be ignored. Honour it: one JSON object per line
        // for Kubernetes log collectors, readable text otherwise.
        if (string.Equals(builder.Configuration["Logging:Console:FormatterName"], "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole();
        }

        builder.Services.AddOptionsWithValidateOnStart<ShutdownOptions>().Bind(builder.Configuration.GetSection(ShutdownOptions.Section));
        builder.Services.AddSingleton<IValidateOptions<ShutdownOptions>, ShutdownOptionsValidator>();
        // The host cancels hosted services' StopAsync and Kestrel's drain after this budget.
        builder.Services.AddOptions<HostOptions>()
            .Configure<IOptions<ShutdownOptions>>((host, shutdown) => host.ShutdownTimeout = shutdown.Value.Timeout);
        return builder;
    }

    /// <summary>
    /// Runs the app; a configuration error stops startup with exit code 1 and one line per
    /// invalid setting on stderr, instead of a stack trace.
    /// </summary>
    public static async Task<int> RunWithStartupErrorsAsync(this WebApplication app)
    {
        try
        {
            await app.RunAsync();
            return Environment.ExitCode;
        }
        catch (Exception ex) when (Unwrap(ex) is { Count: > 0 } failures)
        {
            foreach (var failure in failures)
            {
                await Console.Error.WriteLineAsync($"energy-ws: invalid configuration: {failure}");
            }

            return 1;
        }
    }

    private static List<string> Unwrap(Exception ex) => ex switch
    {
        OptionsValidationException options => options.Failures.Select(Clean).ToList(),
        AggregateException aggregate => aggregate.InnerExceptions.SelectMany(Unwrap).ToList(),
        _ => [],
    };

    /// <summary>
    /// The source-generated validator wraps our message ("Kafka:Topic must …") in its own frame;
    /// keep just our message, which names the setting.
    /// </summary>
    private static string Clean(string failure)
    {
        const string marker = "with the error: '";
        var at = failure.IndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? failure : failure[(at + marker.Length)..].TrimEnd('.', '\'');
    }
}
