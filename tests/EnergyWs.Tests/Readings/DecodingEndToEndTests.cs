using System.Text;
using Confluent.Kafka;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Readings;

/// <summary>Real meter and bridge formats produced into the broker by an independent client reach WebSocket clients.</summary>
public sealed class DecodingEndToEndTests
{
    private const string Gen2Device = "shellyemg3-84fce63bd1a4";
    private const string Gen1Device = "shellyem-C45BBE6B4A21";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MixedFormatsEnvelopesAndGarbage_ExactlyExpectedReadingsInOrder_DeviceFilterHonoured()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?>
        {
            // The Redpanda Connect bridge of the original deployment, recognized by its shape.
            ["Readings:Mappings:0:Require:0"] = "tags.device_serial",
            ["Readings:Mappings:0:Fields:timestamp"] = "ts",
            ["Readings:Mappings:0:Fields:device"] = "tags.device_serial",
            ["Readings:Mappings:0:Fields:power_w"] = "fields.active_power_total",
            ["Readings:Mappings:0:Fields:voltage"] = "fields.voltage_l1",
            ["Readings:Mappings:0:Fields:current"] = "fields.current_l1",
            ["Readings:Mappings:0:Fields:energy_kwh"] = "fields.active_energy_total*0.001",
        }, Ct);
        await using var all = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await using var gen1Only = await WsClient.ConnectAsync(stack.App.WebSocketUri($"/ws?device={Gen1Device}"), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 2, "both clients are registered", Ct);

        const long T0 = 1767900600000; // 2026-01-08T19:30:00Z
        var gen1Power = $"shellies/{Gen1Device}/emeter/0/power";
        var records = new List<Message<byte[]?, byte[]?>>
        {
            Msg(null, SeedReadings.Json(1)),
            Msg(null, "hello world"),
            Msg($"{Gen2Device}/events/rpc",
                $"{{\"src\":\"{Gen2Device}\",\"method\":\"NotifyStatus\",\"params\":{{\"ts\":1767900600.0,\"em1:0\":{{\"id\":0,\"voltage\":240.2,\"current\":6.473,\"act_power\":1327.6,\"pf\":0.87,\"freq\":50}}}}}}"),
            Msg(gen1Power, "98.55", T0 + 100),
            Msg("client-id-as-key", "239.38", T0 + 200, ("mqtt_topic", $"shellies/{Gen1Device}/emeter/0/voltage")),
            Msg(gen1Power, "NaN", T0 + 250),
            Msg(Gen1Device, $"{{\"clientid\":\"{Gen1Device}\",\"topic\":\"shellies/{Gen1Device}/emeter/0/total\",\"payload\":\"9188.8\",\"qos\":0,\"timestamp\":{T0 + 300}}}"),
            Msg($"{Gen2Device}/status/em1data:0",
                $"{{\"schema\":{{\"type\":\"bytes\",\"optional\":false}},\"payload\":\"{Convert.ToBase64String("{\"id\":0,\"total_act_energy\":2776175.11,\"total_act_ret_energy\":571584.87}"u8)}\"}}",
                T0 + 400),
            Msg($"{Gen2Device}/status/em1:0", "{\"id\":0,\"act_power\":2000000}", T0 + 450),
            Msg(null, new string('[', 500) + new string(']', 500)),
            Msg(null, ""),
            Msg(null, "{\"ts\":\"2026-01-08T19:30:00.123456789Z\",\"tags\":{\"device_serial\":\"SE-000123\"},\"fields\":{\"active_power_total\":2450.5,\"active_energy_total\":145300.0,\"voltage_l1\":230.2,\"current_l1\":5.21}}"),
            Msg(gen1Power, "-12.5", T0 + 500),
            Msg(null, SeedReadings.Json(2)),
        };
        using (var producer = stack.Kafka.CreateProducer())
        {
            foreach (var record in records)
            {
                producer.Produce(stack.Topic, record);
            }

            await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(30)), Ct);
        }

        const string gen2 = $",\"device\":\"{Gen2Device}\",\"channel\":\"0\"";
        const string gen1 = $",\"device\":\"{Gen1Device}\",\"channel\":\"0\"";
        string[] gen1Readings =
        [
            $"{{\"timestamp\":\"2026-01-08T19:30:00.1Z\",\"power_w\":98.55,\"voltage\":null,\"current\":null,\"energy_kwh\":null{gen1}}}",
            $"{{\"timestamp\":\"2026-01-08T19:30:00.2Z\",\"power_w\":98.55,\"voltage\":239.38,\"current\":null,\"energy_kwh\":null{gen1}}}",
            $"{{\"timestamp\":\"2026-01-08T19:30:00.3Z\",\"power_w\":98.55,\"voltage\":239.38,\"current\":null,\"energy_kwh\":9.1888{gen1}}}",
            $"{{\"timestamp\":\"2026-01-08T19:30:00.5Z\",\"power_w\":-12.5,\"voltage\":239.38,\"current\":null,\"energy_kwh\":9.1888{gen1}}}",
        ];
        string[] expected =
        [
            SeedReadings.Json(1),
            $"{{\"timestamp\":\"2026-01-08T19:30:00Z\",\"power_w\":1327.6,\"voltage\":240.2,\"current\":6.473,\"energy_kwh\":null{gen2},\"power_factor\":0.87,\"frequency_hz\":50}}",
            gen1Readings[0],
            gen1Readings[1],
            gen1Readings[2],
            $"{{\"timestamp\":\"2026-01-08T19:30:00.4Z\",\"power_w\":1327.6,\"voltage\":240.2,\"current\":6.473,\"energy_kwh\":2776.17511{gen2},\"energy_returned_kwh\":571.58487,\"power_factor\":0.87,\"frequency_hz\":50}}",
            "{\"timestamp\":\"2026-01-08T19:30:00.123Z\",\"power_w\":2450.5,\"voltage\":230.2,\"current\":5.21,\"energy_kwh\":145.3,\"device\":\"SE-000123\"}",
            gen1Readings[3],
            SeedReadings.Json(2),
        ];

        Assert.Equal(expected, await all.ReceiveManyAsync(expected.Length));

        // The filtered client's last reading is the last one published for its device; anything
        // it should not have seen would have been queued before it.
        Assert.Equal(gen1Readings, await gen1Only.ReceiveManyAsync(gen1Readings.Length));
    }

    [Fact]
    public async Task Startup_InvalidMappingRegex_ServiceDoesNotStart()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var app = new EnergyWsApp(kafka.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["Readings:Mappings:0:Topic"] = "([",
            ["Readings:Mappings:0:Fields:power_w"] = "p",
        });

        // The host prints the failing setting to stderr and exits (message text: RecordDecoderTests).
        await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync(Ct));
        try
        {
            await app.DisposeAsync();
        }
        catch (ArgumentNullException)
        {
            // WebApplicationFactory cannot stop a host that never started; nothing is left running.
        }
    }

    private static Message<byte[]?, byte[]?> Msg(string? key, string value, long? timestampMs = null, (string Name, string Value)? header = null)
    {
        var message = new Message<byte[]?, byte[]?>
        {
            Key = key is null ? null : Encoding.UTF8.GetBytes(key),
            Value = Encoding.UTF8.GetBytes(value),
        };
        if (timestampMs is { } ms)
        {
            message.Timestamp = new Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(ms));
        }

        if (header is { } h)
        {
            message.Headers = new Headers { { h.Name, Encoding.UTF8.GetBytes(h.Value) } };
        }

        return message;
    }
}
