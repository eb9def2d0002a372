using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;

namespace EnergyWs.Tests.Infrastructure;

/// <summary>
/// What most tests start with: a broker of its own, a fresh topic, the service consuming it (started
/// and assigned) and a producer to that topic. Tests with another set-up (several brokers, a broker
/// down at start, two services on one topic) build the parts themselves.
/// </summary>
internal sealed class TestStack : IAsyncDisposable
{
    private IProducer<byte[]?, byte[]?>? _producer;

    private TestStack(TestKafka kafka, string topic, EnergyWsApp app)
    {
        Kafka = kafka;
        Topic = topic;
        App = app;
    }

    public TestKafka Kafka { get; }

    public string Topic { get; }

    public EnergyWsApp App { get; }

    /// <summary>A producer to the broker, made on first use and disposed with the stack.</summary>
    public IProducer<byte[]?, byte[]?> Producer => _producer ??= Kafka.CreateProducer();

    public static Task<TestStack> StartAsync(CancellationToken cancellationToken) => StartAsync(null, null, cancellationToken);

    public static Task<TestStack> StartAsync(IDictionary<string, string?>? settings, CancellationToken cancellationToken) =>
        StartAsync(settings, null, cancellationToken);

    public static async Task<TestStack> StartAsync(IDictionary<string, string?>? settings, Action<IServiceCollection>? services, CancellationToken cancellationToken)
    {
        var kafka = new TestKafka();
        EnergyWsApp? app = null;
        try
        {
            var topic = await kafka.CreateTopicAsync();
            app = new EnergyWsApp(kafka.BootstrapServers, topic, settings, services);
            await app.StartAsync(cancellationToken);
            return new TestStack(kafka, topic, app);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }

            kafka.Dispose();
            throw;
        }
    }

    /// <summary>Produces the values to partition 0 of the topic, in order, and waits until the broker has them.</summary>
    public Task ProduceAsync(IEnumerable<string> values) => SeedReadings.ProduceAsync(Producer, Topic, values);

    /// <summary>The producer goes first and the broker last: the service and producers are its clients.</summary>
    public async ValueTask DisposeAsync()
    {
        _producer?.Dispose();
        await App.DisposeAsync();
        Kafka.Dispose();
    }
}
