using Confluent.Kafka;
using EnergyWs.Kafka;
using EnergyWs.Readings;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EnergyWs.Demo;

/// <summary>
/// A simulated Shelly EM: produces a realistic reading in the seed format to the topic through a
/// real Kafka producer, so the demo runs exactly the production consume path.
/// </summary>
internal sealed partial class MeterSimulator(
    IOptions<DemoOptions> demoOptions,
    IOptions<KafkaOptions> kafkaOptions,
    TimeProvider time,
    ILogger<MeterSimulator> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var kafka = kafkaOptions.Value;
        using var producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            LingerMs = 0,
            Acks = Acks.Leader,
            SocketNagleDisable = true,
        }).Build();

        var load = new HouseholdLoad(new Random());
        using var timer = new PeriodicTimer(demoOptions.Value.Interval, time);
        var localOffset = TimeZoneInfo.Local.BaseUtcOffset;
        var previous = DateTimeOffset.MinValue;
        try
        {
            do
            {
                // A late tick fires at once: keep timestamps strictly increasing, as a meter's are
                // (clients and since= resume key readings by timestamp).
                var now = RecordDecoder.TruncateToMilliseconds(time.GetUtcNow());
                now = previous = now > previous ? now : previous.AddMilliseconds(1);
                var (power, voltage, current, energy) = load.Next(now, localOffset);
                var reading = new Reading
                {
                    Timestamp = now,
                    PowerW = power,
                    Voltage = voltage,
                    Current = current,
                    EnergyKwh = energy,
                };
                try
                {
                    producer.Produce(kafka.Topic, new Message<byte[]?, byte[]>
                    {
                        Value = ReadingJson.Serialize(reading),
                        Timestamp = new Timestamp(now),
                    });
                }
                catch (ProduceException<byte[]?, byte[]> ex)
                {
                    // A full local queue (broker away for long) costs readings, not the simulator.
                    LogProduceFailed(logger, ex.Error.Reason);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
        }

        producer.Flush(TimeSpan.FromSeconds(1));
    }

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "Simulated meter could not produce: {Reason}")]
    private static partial void LogProduceFailed(ILogger logger, string reason);
}
