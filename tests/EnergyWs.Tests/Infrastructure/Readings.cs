using System.Globalization;
using System.Text;
using Confluent.Kafka;

namespace EnergyWs.Tests.Infrastructure;

/// <summary>Seed-format readings as a meter bridge would produce them.</summary>
internal static class SeedReadings
{
    private static readonly DateTimeOffset Start = new(2026, 1, 8, 19, 30, 0, TimeSpan.Zero);

    /// <summary>The i-th test reading, in the exact compact wire form the service must emit.</summary>
    public static string Json(int i) => Json(i, Start);

    /// <summary>The i-th reading counted from <paramref name="start"/> (whole seconds; recent ones stay within the history window).</summary>
    public static string Json(int i, DateTimeOffset start) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"timestamp\":\"{start.AddSeconds(i):yyyy-MM-dd'T'HH:mm:ss'Z'}\",\"power_w\":{2450.5 + i},\"voltage\":230.2,\"current\":10.64,\"energy_kwh\":{145.3 + (i * 0.001):0.###}}}");

    /// <summary>
    /// Produces to partition 0, so order is defined even where the broker auto-creates topics with
    /// several partitions (an external broker without the admin API).
    /// </summary>
    public static async Task ProduceAsync(IProducer<byte[]?, byte[]?> producer, string topic, IEnumerable<string> values)
    {
        var partition = new TopicPartition(topic, 0);
        foreach (var value in values)
        {
            producer.Produce(partition, new Message<byte[]?, byte[]?> { Value = Encoding.UTF8.GetBytes(value) });
        }

        await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(30)));
    }
}
