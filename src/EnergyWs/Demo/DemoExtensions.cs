using EnergyWs.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EnergyWs.Demo;

internal static partial class DemoExtensions
{
    /// <summary>
    /// The embedded default: with no broker configured in Development (or Demo:Enabled=true), start
    /// librdkafka's mock cluster in-process and a simulated meter producing to it. Must run before
    /// the Kafka registration so the broker outlives every client of it.
    /// </summary>
    public static IHostApplicationBuilder AddDemo(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<DemoOptions>().Bind(builder.Configuration.GetSection(DemoOptions.Section));
        builder.Services.AddSingleton<IValidateOptions<DemoOptions>, DemoOptionsValidator>();

        // Decided from the bound options, before Kafka is registered. Invalid values still decide
        // (Demo:Interval does not change whether the demo runs): startup stops on them at once with
        // one line, where skipping the demo would add a misleading "Kafka:BootstrapServers is required".
        var demo = RegistrationOptions.Bound(() => builder.Configuration.GetSection(DemoOptions.Section).Get<DemoOptions>());
        var kafka = RegistrationOptions.Bound(() => builder.Configuration.GetSection(KafkaOptions.Section).Get<KafkaOptions>());
        if (demo is null || kafka is null)
        {
            return builder;
        }

        var hasBroker = !string.IsNullOrWhiteSpace(kafka.BootstrapServers);
        var enabled = demo.Enabled ?? (!hasBroker && builder.Environment.IsDevelopment());
        if (!enabled)
        {
            return builder;
        }

        var broker = new EmbeddedKafkaBroker();
        // The consumer's options are the configured ones with the embedded broker's address.
        kafka.BootstrapServers = broker.BootstrapServers;
        builder.Services.AddOptions<KafkaOptions>().PostConfigure(options => options.BootstrapServers = broker.BootstrapServers);
        var topic = kafka.Topic;
        if (new KafkaOptionsValidator().Validate(Options.DefaultName, kafka).Succeeded)
        {
            // A topic name the broker would refuse is reported by the start-time validation instead.
            broker.CreateTopic(topic);
        }

        // Registered by factory so the container disposes it; resolved first (by the hosted service
        // below, registered before the consumer) so it is disposed last, after every Kafka client.
        builder.Services.AddSingleton(_ => broker);
        builder.Services.AddHostedService(sp => new DemoAnnouncer(
            sp.GetRequiredService<EmbeddedKafkaBroker>(),
            topic,
            sp.GetRequiredService<IServiceProvider>(),
            sp.GetRequiredService<ILogger<DemoAnnouncer>>()));
        if (demo.Simulator)
        {
            builder.Services.AddHostedService<MeterSimulator>();
        }

        return builder;
    }

    /// <summary>Holds the broker for the host's lifetime and says where to connect once listening.</summary>
    private sealed partial class DemoAnnouncer(EmbeddedKafkaBroker broker, string topic, IServiceProvider services, ILogger logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
            lifetime.ApplicationStarted.Register(() =>
            {
                var server = services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>();
                var addresses = server?.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses;
                var management = services.GetRequiredService<Management.ManagementListener>();
                var url = addresses?.FirstOrDefault(address => !management.IsManagementAddress(address)) ?? "http://localhost:8080";
                var ws = url.Replace("http://", "ws://", StringComparison.Ordinal).Replace("https://", "wss://", StringComparison.Ordinal).TrimEnd('/');
                var dashboard = url.TrimEnd('/') + "/";
                LogReady(logger, broker.BootstrapServers, topic, dashboard, ws + "/ws", $"http://localhost:{management.Port}/metrics");
            });
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(EventId = 9001, Level = LogLevel.Information,
            Message = "Demo: embedded Kafka broker at {BootstrapServers}, simulated meter producing to {Topic}. Dashboard: {Dashboard}  WebSocket: {WebSocket}  Metrics: {Metrics}")]
        private static partial void LogReady(ILogger logger, string bootstrapServers, string topic, string dashboard, string webSocket, string metrics);
    }
}
