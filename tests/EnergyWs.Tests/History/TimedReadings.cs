using System.Globalization;
using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.History;

/// <summary>
/// Seed-format readings stamped relative to now (the history window is measured from the wall
/// clock), in whole seconds so the service's output is the same bytes.
/// </summary>
internal static class TimedReadings
{
    /// <summary>Now minus <paramref name="ago"/>, truncated to the second.</summary>
    public static DateTimeOffset Ago(TimeSpan ago)
    {
        var t = DateTimeOffset.UtcNow - ago;
        return new DateTimeOffset(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
    }

    public static string Json(DateTimeOffset timestamp, int i) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"timestamp\":\"{timestamp.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}\",\"power_w\":{100.5 + i},\"voltage\":230.2,\"current\":1.5,\"energy_kwh\":{10 + (i * 0.001):0.###}}}");

    /// <summary>Reading i of a series one second apart starting at <paramref name="start"/>.</summary>
    public static string Series(DateTimeOffset start, int i) => Json(start.AddSeconds(i), i);

    public static string Iso(DateTimeOffset timestamp) =>
        timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Waits until the consumer has processed <paramref name="records"/> records of the (single-partition) topic.</summary>
    public static Task ConsumedAsync(EnergyWsApp app, long records, CancellationToken cancellationToken) =>
        Eventually.TrueAsync(
            () => app.Get<ConsumerState>().Partitions.Sum(p => Volatile.Read(ref p.Value.Position)) >= records,
            $"{records} records are consumed",
            cancellationToken);
}
