using EnergyWs.Freshness;
using EnergyWs.History;
using EnergyWs.Readings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnergyWs.Kafka;

internal static class KafkaExtensions
{
    /// <summary>The consumer, the decoding pipeline it feeds, and their options.</summary>
    public static IHostApplicationBuilder AddKafkaReadings(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<KafkaOptions>().Bind(builder.Configuration.GetSection(KafkaOptions.Section));
        services.AddSingleton<IValidateOptions<KafkaOptions>, KafkaOptionsValidator>();

        // Rebuild after a restart: read back as many records per partition as the history can
        // hold, unless Kafka:ReplayRecords says otherwise. By offset, because the embedded broker
        // cannot seek by time and a real broker's retention may be shorter than the window; what
        // is older than the window is dropped on arrival. The one place an unset value is resolved.
        services.AddOptions<KafkaOptions>()
            .PostConfigure<IOptions<HistoryOptions>>((kafka, history) => kafka.ReplayRecords ??= history.Value.MaxReadings);
        services.AddOptionsWithValidateOnStart<ReadingsOptions>().Bind(builder.Configuration.GetSection(ReadingsOptions.Section));
        services.AddSingleton<IValidateOptions<ReadingsOptions>, ReadingsOptionsValidator>();
        services.AddSingleton<IValidateOptions<ReadingsOptions>, ReadingsMappingsValidator>();

        // Streams: the energy stream on Kafka:Topic unless Streams:energy:Topic says otherwise, and
        // every configured one; the consumer reads all their topics.
        services.AddOptionsWithValidateOnStart<StreamsOptions>()
            .Configure(streams => builder.Configuration.GetSection(StreamsOptions.Section).Bind(streams.Streams))
            // The bound value, not IOptions<KafkaOptions>.Value: that would validate Kafka's options a
            // second time, and a bad Kafka setting would be reported twice.
            .PostConfigure(streams => streams.DefaultEnergyTopic = builder.Configuration.GetSection(KafkaOptions.Section)[nameof(KafkaOptions.Topic)] ?? KafkaOptions.DefaultTopic);
        services.AddSingleton<IValidateOptions<StreamsOptions>, StreamsOptionsValidator>();
        services.AddSingleton<StreamCatalog>();
        services.AddSingleton<JsonStreamDecoder>();

        services.AddSingleton<IRecordDecoder, RecordDecoder>();
        services.AddSingleton<ReadingMetrics>();
        services.AddSingleton<ReadingPipeline>();
        services.AddSingleton(sp => new KafkaTopics([.. sp.GetRequiredService<StreamCatalog>().Streams.Select(s => s.Topic)]));
        services.AddSingleton<ConsumerState>();
        services.AddSingleton<KafkaMetrics>();
        services.AddSingleton<KafkaConsumerService>();
        services.AddHostedService(sp =>
        {
            // Instruments exist before the first scrape.
            sp.GetRequiredService<KafkaMetrics>();
            return sp.GetRequiredService<KafkaConsumerService>();
        });

        // The freshness alarm (Freshness/, registered by AddFreshness): fed by a sink, because only
        // here is it known whether a frame is live or rebuilt, and checked once the rebuild is over.
        services.AddSingleton<IReadingSink, FreshnessSink>();
        services.AddSingleton<FreshnessMonitor>();
        services.AddHostedService(sp =>
        {
            sp.GetRequiredService<FreshnessMetrics>();
            return sp.GetRequiredService<FreshnessMonitor>();
        });
        return builder;
    }
}
