using System.Diagnostics;
using System.Text;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using System.Diagnostics.Metrics;

namespace EnergyWs.Tests.Resilience;

[Trait("Category", "Slow")]
[Collection(ResilienceCollection.Name)]
public sealed class PoisonFloodTests
{
    private const int MaxRecordBytes = 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Hostile or broken records, each with the reason it must be counted under.</summary>
    private static readonly (string Reason, byte[] Value)[] Poison =
    [
        (DecodeReasons.Empty, []),
        (DecodeReasons.TooLarge, Encoding.UTF8.GetBytes("{\"timestamp\":\"2026-01-08T19:30:00Z\",\"power_w\":1,\"pad\":\"" + new string('x', MaxRecordBytes) + "\"}")),
        (DecodeReasons.NotJson, Encoding.UTF8.GetBytes("hello world")),
        (DecodeReasons.NotJson, Encoding.UTF8.GetBytes("{\"power_w\":")),
        (DecodeReasons.NotJson, [0xff, 0xfe, 0x00, 0x01, 0x7b]),
        (DecodeReasons.UnknownFormat, Encoding.UTF8.GetBytes("[1,2,3]")),
        (DecodeReasons.UnknownFormat, Encoding.UTF8.GetBytes("{\"voltage\":230}")),
        (DecodeReasons.BadNumber, Encoding.UTF8.GetBytes("{\"timestamp\":\"2026-01-08T19:30:00Z\",\"power_w\":\"lots\"}")),
        (DecodeReasons.BadTimestamp, Encoding.UTF8.GetBytes("{\"timestamp\":\"yesterday\",\"power_w\":1}")),
    ];

    [Fact(Timeout = 300_000)]
    public async Task PoisonFlood_InvalidInterleavedWithValid_AllValidDeliveredInOrderAndInvalidCountedByReason()
    {
        var valid = ResilienceScale.Pick(500, 1_000);
        var invalid = ResilienceScale.Pick(5_000, 10_000);

        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            ["Readings:MaxRecordBytes"] = MaxRecordBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, Ct);
        using var totals = new MetricTotals(stack.App.Get<IMeterFactory>(), "energyws_decode_errors_total", "energyws_readings_total");
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "the client is registered", Ct);

        // invalid/valid poison records after each valid one, cycling through every kind.
        var expectedByReason = new Dictionary<string, long>();
        var perValid = invalid / valid;
        var sw = Stopwatch.StartNew();
        using (var producer = stack.Kafka.CreateProducer())
        {
            var p = 0;
            for (var i = 0; i < valid; i++)
            {
                producer.Produce(stack.Topic, new Confluent.Kafka.Message<byte[]?, byte[]?> { Value = Encoding.UTF8.GetBytes(SeedReadings.Json(i)) });
                for (var j = 0; j < perValid; j++, p++)
                {
                    var (reason, value) = Poison[p % Poison.Length];
                    producer.Produce(stack.Topic, new Confluent.Kafka.Message<byte[]?, byte[]?> { Value = value });
                    expectedByReason[reason] = expectedByReason.GetValueOrDefault(reason) + 1;
                }
            }

            await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(60)), Ct);
        }

        var expected = Enumerable.Range(0, valid).Select(SeedReadings.Json).ToList();
        Assert.Equal(expected, await client.ReceiveManyAsync(expected.Count, TimeSpan.FromSeconds(60)));
        var elapsed = sw.Elapsed;

        await Eventually.TrueAsync(() => totals.Total("energyws_decode_errors_total") == invalid, $"{invalid} decode errors are counted", Ct);
        var counted = totals.ByTag("energyws_decode_errors_total");
        Assert.Equal(expectedByReason.OrderBy(kv => kv.Key), counted.OrderBy(kv => kv.Key));
        Assert.Equal(valid, totals.Total("energyws_readings_total"));
        Assert.Equal(1, stack.App.Get<Broadcaster>().Count);

        ResilienceScale.Report("poison flood",
            $"{invalid:N0} invalid records interleaved with {valid:N0} valid: all {valid:N0} delivered in order in {elapsed.TotalSeconds:0.0} s; " +
            $"counted by reason {string.Join(", ", counted.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"))}");
    }
}
