using System.Diagnostics.Metrics;

namespace EnergyWs.Kafka;

/// <summary>Consumer lag per partition, read from <see cref="ConsumerState"/> at scrape time.</summary>
internal sealed class KafkaMetrics
{
    public const string MeterName = "EnergyWs.Kafka";

    public KafkaMetrics(IMeterFactory meterFactory, ConsumerState state)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge(
            "energyws_kafka_consumer_lag",
            () => Lag(state),
            "{record}",
            "Records between the consumer's position and the partition's high watermark.");
    }

    private static IEnumerable<Measurement<long>> Lag(ConsumerState state)
    {
        foreach (var (key, progress) in state.Partitions)
        {
            yield return new Measurement<long>(
                progress.Lag,
                new KeyValuePair<string, object?>("topic", key.Topic),
                new KeyValuePair<string, object?>("partition", key.Partition));
        }
    }
}
