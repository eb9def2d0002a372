using Confluent.Kafka;
using Confluent.Kafka.Admin;
using EnergyWs.Kafka;

namespace EnergyWs.Tests.Infrastructure;

/// <summary>
/// The broker a test talks to: librdkafka's embedded mock cluster by default, or the external
/// Kafka/Redpanda named by ENERGYWS_TEST_KAFKA=host:port. Every test gets its own topic, so tests
/// run in parallel against either. Dispose after every client of it (the app, producers).
/// </summary>
internal sealed class TestKafka : IDisposable
{
    public const string ExternalVariable = "ENERGYWS_TEST_KAFKA";

    private readonly EmbeddedKafkaBroker? _embedded;

    /// <param name="brokerCount">Brokers of the embedded cluster (ignored against an external broker).</param>
    public TestKafka(int brokerCount = 1)
    {
        var external = Environment.GetEnvironmentVariable(ExternalVariable);
        if (string.IsNullOrWhiteSpace(external))
        {
            _embedded = new EmbeddedKafkaBroker(brokerCount);
            BootstrapServers = _embedded.BootstrapServers;
        }
        else
        {
            Librdkafka.EnsureLoaded();
            BootstrapServers = external.Trim();
        }
    }

    public string BootstrapServers { get; }

    /// <summary>The mock cluster, for fault injection; null against an external broker.</summary>
    public EmbeddedKafkaBroker? Embedded => _embedded;

    public static bool IsExternal => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(ExternalVariable));

    /// <summary>A topic name no test has used, for a topic created later (or never).</summary>
    public static string NewTopicName() => $"energy-test-{Guid.NewGuid():N}";

    public Task<string> CreateTopicAsync(int partitions = 1) => CreateTopicAsync(NewTopicName(), partitions);

    public async Task<string> CreateTopicAsync(string topic, int partitions = 1)
    {
        if (_embedded is not null)
        {
            _embedded.CreateTopic(topic, partitions);
            return topic;
        }

        try
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
            await admin.CreateTopicsAsync(
                [new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = 1 }],
                new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(5), OperationTimeout = TimeSpan.FromSeconds(5) });
        }
        catch (KafkaException)
        {
            // Brokers without the admin API (another process's mock cluster) create topics on first
            // produce; that record sits below the live end, so no test ever receives it.
            using var producer = CreateProducer();
            await producer.ProduceAsync(topic, new Message<byte[]?, byte[]?> { Value = "topic created"u8.ToArray() });
        }

        return topic;
    }

    public IProducer<byte[]?, byte[]?> CreateProducer() =>
        new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = BootstrapServers,
            LingerMs = 0,
            SocketNagleDisable = true,
            EnableIdempotence = false,
            Acks = Acks.Leader,
        }).Build();

    public void Dispose() => _embedded?.Dispose();
}
