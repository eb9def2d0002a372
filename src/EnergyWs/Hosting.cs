using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace EnergyWs;

internal static partial class Hosting
{
    /// <summary>Process-wide settings: time source, trusted proxies, shutdown budget.</summary>
    public static IHostApplicationBuilder AddHosting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);

        // CreateSlimBuilder registers only the simple console formatter, so the built-in setting
        // Logging:Console:FormatterName=json would be ignored. Honour it: one JSON object per line
        // for Kubernetes log collectors, readable text otherwise. Read raw: it is the logging
        // framework's own key (ConsoleLoggerOptions.FormatterName), needed to pick the provider
        // before logging is built, and no options class of ours owns it.
        if (string.Equals(builder.Configuration["Logging:Console:FormatterName"], "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole();
        }

        AddForwardedHeaders(builder);
        builder.Services.AddOptionsWithValidateOnStart<ShutdownOptions>().Bind(builder.Configuration.GetSection(ShutdownOptions.Section));
        builder.Services.AddSingleton<IValidateOptions<ShutdownOptions>, ShutdownOptionsValidator>();
        // The host cancels hosted services' StopAsync and Kestrel's drain after this budget.
        builder.Services.AddOptions<HostOptions>()
            .Configure<IOptions<ShutdownOptions>>((host, shutdown) => host.ShutdownTimeout = shutdown.Value.Timeout);
        return builder;
    }

    /// <summary>
    /// ASPNETCORE_FORWARDEDHEADERS_ENABLED=true makes ASP.NET Core apply X-Forwarded-For and
    /// X-Forwarded-Proto from any peer. Believe them only from Hosting:KnownProxies and
    /// Hosting:KnownNetworks; from anyone else the header is ignored and the peer's own address counts.
    /// </summary>
    private static void AddForwardedHeaders(IHostApplicationBuilder builder)
    {
        // Read raw, as ASP.NET Core reads it to decide whether to apply forwarded headers: it is the
        // framework's switch at the configuration root, not a setting of ours, and HostingOptions
        // takes it over so its validator can insist on a named proxy.
        var enabled = bool.TryParse(builder.Configuration[HostingOptions.ForwardedHeadersSetting], out var on) && on;
        builder.Services.AddOptionsWithValidateOnStart<HostingOptions>()
            .Bind(builder.Configuration.GetSection(HostingOptions.Section))
            .Configure(options => options.ForwardedHeadersEnabled = enabled);
        builder.Services.AddSingleton<IValidateOptions<HostingOptions>, HostingOptionsValidator>();
        if (!enabled)
        {
            builder.Services.AddTransient<IStartupFilter, ForwardedHeadersOff>();
        }

        // After ASP.NET Core's own setup, which empties both lists when the switch is on.
        builder.Services.AddOptions<ForwardedHeadersOptions>().PostConfigure<IOptions<HostingOptions>>((forwarded, hosting) =>
        {
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in hosting.Value.KnownProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }

            foreach (var network in hosting.Value.KnownNetworks)
            {
                forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
    }

    /// <summary>
    /// Runs the app; a configuration error stops startup with exit code 1 and one line per
    /// invalid setting on stderr, instead of a stack trace. So does a server that cannot start
    /// (an address in use, an HTTPS endpoint without a usable certificate): Kestrel's message
    /// names the problem, and the host has logged the exception in full.
    /// </summary>
    public static async Task<int> RunWithStartupErrorsAsync(this WebApplication app)
    {
        try
        {
            try
            {
                // Validate every ValidateOnStart option before the host starts, so a bad setting is
                // reported as one line instead of the host's "failed to start" stack trace.
                app.Services.GetRequiredService<IStartupValidator>().Validate();
                await app.StartAsync();
            }
            catch (Exception ex) when (Unwrap(ex) is { Count: > 0 } failures)
            {
                foreach (var failure in failures)
                {
                    await Console.Error.WriteLineAsync($"energy-ws: invalid configuration: {failure}");
                }

                return 1;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await Console.Error.WriteLineAsync($"energy-ws: failed to start: {ex.Message.ReplaceLineEndings(" ")}");
                return 1;
            }

            await app.WaitForShutdownAsync();
            return Environment.ExitCode;
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    private static List<string> Unwrap(Exception ex) => ex switch
    {
        OptionsValidationException options => options.Failures.Select(Clean).ToList(),
        AggregateException aggregate => aggregate.InnerExceptions.SelectMany(Unwrap).ToList(),
        // The binder's own message names the key: "Failed to convert configuration value 'abc' at
        // 'Streaming:MaxConnections' to type 'System.Int32'."
        InvalidOperationException { InnerException: FormatException or OverflowException or InvalidCastException } binding
            when binding.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) => [binding.Message],
        _ => [],
    };

    /// <summary>
    /// The source-generated validator prefixes our message ("Kafka:Topic must …") with the member
    /// name ("Topic: "); keep just our message, which names the setting by its configuration key.
    /// </summary>
    private static string Clean(string failure)
    {
        var colon = failure.IndexOf(": ", StringComparison.Ordinal);
        if (colon > 0 && failure.AsSpan(0, colon).IndexOfAny(' ', ':') < 0)
        {
            failure = failure[(colon + 2)..];
        }

        // Messages DataAnnotations wrote itself name "StreamingOptions.MaxConnections"; say "Streaming:MaxConnections".
        return OptionsMemberName().Replace(failure, "$1:$2");
    }

    [GeneratedRegex(@"(?<=The field )(\w+)Options\.(\w+)")]
    private static partial Regex OptionsMemberName();

    /// <summary>
    /// With forwarded headers off, says so once where it matters: trusted proxies that are
    /// configured and ignored (at start), and the first request that came through a proxy (it
    /// carries X-Forwarded-For), because then every client behind it shares the proxy's per-IP
    /// limits and a busy site hits them at once.
    /// </summary>
    private sealed class ForwardedHeadersOff(IOptions<HostingOptions> hosting, ILoggerFactory loggers) : IStartupFilter
    {
        private int _warned;

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var logger = loggers.CreateLogger(typeof(Hosting).FullName!);
            var options = hosting.Value;
            var ignored = (options.KnownProxies.Length > 0 ? $"{HostingOptions.Section}:{nameof(HostingOptions.KnownProxies)}" : null,
                options.KnownNetworks.Length > 0 ? $"{HostingOptions.Section}:{nameof(HostingOptions.KnownNetworks)}" : null) switch
            {
                ({ } proxies, { } networks) => $"{proxies} and {networks} are",
                ({ } proxies, null) => $"{proxies} is",
                (null, { } networks) => $"{networks} is",
                _ => null,
            };
            if (ignored is not null)
            {
                Log.TrustedProxiesUnused(logger, ignored);
            }

            app.Use((context, nextMiddleware) =>
            {
                if (Volatile.Read(ref _warned) == 0 && context.Request.Headers.ContainsKey(ForwardedHeadersDefaults.XForwardedForHeaderName)
                    && Interlocked.Exchange(ref _warned, 1) == 0)
                {
                    Log.ForwardedHeaderIgnored(logger, context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
