using System.Globalization;
using System.Text;
using Confluent.Kafka;
using CsCheck;
using EnergyWs.Readings;

namespace EnergyWs.Tests.Readings;

/// <summary>Whatever arrives on the topic, the decoder neither throws nor emits a non-finite or implausible number.</summary>
public sealed class DecoderPropertyTests
{
    private static readonly string[] Topics =
    [
        "shellies/shellyem-AB/emeter/0/power", "shellies/shellyem-AB/emeter/1/total", "shellies/x/emeter/99999/voltage",
        "shellyproem50-1/status/em1:0", "shellypro3em-1/status/em:0", "shellypro3em-1/status/emdata:0", "a/status/em1:",
        "shellyemg3-1/events/rpc", "/status/em1:0", "shellies//emeter//", "plain-key",
    ];

    private static readonly string[] Names =
    [
        "timestamp", "power_w", "voltage", "current", "energy_kwh", "device", "channel", "src", "method", "params", "ts",
        "em1:0", "em1data:1", "em:0", "emdata:0", "act_power", "total_act_energy", "a_voltage", "b_voltage", "total_act_power",
        "topic", "payload", "schema", "fields", "tags", "id",
        "saveeyeDeviceSerialNumber", "activeActualConsumption", "activeActualProduction", "rmsVoltage", "rmsCurrent", "L1", "L2", "total",
        "device_serial", "active_power_total", "active_power_l1", "voltage_l2", "current_l3", "power_l1_w", "voltage_l1",
    ];

    private static readonly string[] Texts =
    [
        "NotifyStatus", "NotifyFullStatus", "shellyemg3-1", "2026-01-08T19:30:00Z", "1e999", "NaN", "Infinity", "-0", "",
        "shellies/shellyem-AB/emeter/0/power", "shellyproem50-1/status/em1:0", "eyJpZCI6MH0=", "{\"id\":0}", "12.5", "\u0000",
    ];

    private static readonly Gen<string> Number = Gen.OneOf(
        Gen.Double.Select(d => d.ToString("R", CultureInfo.InvariantCulture)),
        Gen.Int.Select(i => i.ToString(CultureInfo.InvariantCulture)),
        Gen.OneOf("1e999", "-1e999", "1e308", "0.0000001", "1767900600.5", "1767900600000", "-5", "999999999999999999999"));

    private static readonly Gen<string> Text = Gen.OneOf(Gen.OneOf(Texts), Gen.String[0, 12]).Select(s => System.Text.Json.JsonSerializer.Serialize(s));

    /// <summary>JSON built from the names and shapes the decoders look for, so the generator reaches past the first check.</summary>
    private static readonly Gen<string> Json = Gen.Recursive<string>((depth, self) =>
    {
        var leaf = Gen.OneOf(Number, Text, Gen.OneOf("true", "false", "null"));
        if (depth >= 5)
        {
            return leaf;
        }

        var array = self.Array[0, 4].Select(items => "[" + string.Join(',', items) + "]");
        var member = Gen.Select(Gen.OneOf(Gen.OneOf(Names), Gen.String[0, 6]), self, (name, value) => System.Text.Json.JsonSerializer.Serialize(name) + ":" + value);
        var obj = member.Array[0, 6].Select(members => "{" + string.Join(',', members) + "}");
        return Gen.Frequency<string>((2, leaf), (1, array), (4, obj));
    });

    /// <summary>Shelly-shaped messages with arbitrary numbers, to exercise unit scaling and plausibility.</summary>
    private static readonly Gen<string> Shelly = Gen.Select(Number, Number, Number, Gen.OneOf("em1:0", "em1data:0", "em:0", "emdata:1")).SelectMany(t =>
        Gen.OneOf(
            $"{{\"id\":0,\"act_power\":{t.Item1},\"voltage\":{t.Item2},\"total_act_energy\":{t.Item3},\"total_act\":{t.Item3},\"a_voltage\":{t.Item2},\"total_act_power\":{t.Item1}}}",
            $"{{\"src\":\"shellyemg3-1\",\"method\":\"NotifyStatus\",\"params\":{{\"ts\":{t.Item3},\"{t.Item4}\":{{\"act_power\":{t.Item1},\"voltage\":{t.Item2},\"total_act_energy\":{t.Item3},\"a_voltage\":{t.Item2},\"total_act_power\":{t.Item1}}}}}}}",
            t.Item1));

    /// <summary>SaveEye payloads and their bridge's records with arbitrary numbers, for the per-phase values and their units.</summary>
    private static readonly Gen<string> SaveEye = Gen.Select(Number, Number, Number, Gen.Bool).Select(t => t.Item4
        ? $"{{\"ts\":{t.Item3},\"tags\":{{\"device_serial\":\"se-1\"}},\"fields\":{{\"active_power_total\":{t.Item1},\"active_power_l2\":{t.Item1},\"voltage_l1\":{t.Item2},\"voltage_l3\":{t.Item2},\"current_l1\":{t.Item3},\"active_production_total\":{t.Item3}}}}}"
        : $"{{\"saveeyeDeviceSerialNumber\":\"se-2\",\"activeActualConsumption\":{{\"L1\":{t.Item1},\"L2\":{t.Item2},\"total\":{t.Item1}}},\"activeActualProduction\":{{\"L1\":{t.Item3}}},\"rmsVoltage\":{{\"L1\":{t.Item2},\"L2\":{t.Item3}}},\"rmsCurrent\":{{\"L2\":{t.Item3}}}}}");

    private static readonly Gen<string?> Key = Gen.OneOf(Gen.OneOf(Topics), Gen.String[0, 20]).Null();

    [Fact]
    public void ArbitraryBytes_NeverThrowAndNeverEmitBadNumbers()
    {
        using var test = new TestDecoder(new ReadingsOptions { MaxDevices = 100 });
        Gen.Select(Gen.Byte.Array[0, 300], Key).Sample(
            (value, key) => _ = DecodeAndCheck(test.Decoder, TestDecoder.Record(key is null ? null : Encoding.UTF8.GetBytes(key), value)),
            iter: 3000, threads: 1);
    }

    [Fact]
    public void ArbitraryJson_NeverThrowsAndNeverEmitsBadNumbers()
    {
        using var test = new TestDecoder(new ReadingsOptions
        {
            MaxDevices = 100,
            Mappings = { new MappingOptions { Fields = { ["device"] = "tags.id", ["power_w"] = "fields.0*1000", ["timestamp"] = "ts" } } },
        });
        var emitted = 0;
        Gen.Select(Gen.Frequency<string>((3, Json), (2, Shelly), (1, SaveEye)), Key, Gen.Bool).Sample(
            (value, key, inHeader) =>
            {
                var headers = inHeader && key is not null ? new Headers { { RecordTopic.HeaderName, Encoding.UTF8.GetBytes(key) } } : null;
                emitted += DecodeAndCheck(test.Decoder, TestDecoder.Record(inHeader ? "k" : key, value, headers: headers));
            },
            iter: 5000, threads: 1);

        // The generator must reach the decoders' success paths, or the property says little.
        Assert.True(emitted > 50, $"only {emitted} readings emitted");
    }

    private static int DecodeAndCheck(RecordDecoder decoder, KafkaRecord record)
    {
        var output = new List<Reading>();
        var result = decoder.Decode(record, output);
        Assert.True(result.Ok || output.Count == 0, "a rejected record emitted readings");
        Assert.True(result.Ok || result.Reason is not null, "rejected without a reason");
        foreach (var r in output)
        {
            foreach (var v in new[] { r.PowerW, r.Voltage, r.Current, r.EnergyKwh, r.EnergyReturnedKwh, r.PowerFactor, r.FrequencyHz })
            {
                Assert.True(v is null || double.IsFinite(v.Value), $"non-finite value from {Encoding.UTF8.GetString(record.Value ?? [])}");
            }

            Assert.True(r.PowerW is null || Math.Abs(r.PowerW.Value) <= Plausibility.MaxAbsPowerW);
            Assert.True(r.Voltage is null or >= 0 and <= Plausibility.MaxVoltage);
            foreach (var phase in r.Phases is { } p ? new[] { p.L1, p.L2, p.L3 } : [])
            {
                Assert.True(phase.PowerW is null || Math.Abs(phase.PowerW.Value) <= Plausibility.MaxAbsPowerW, "implausible phase power");
                Assert.True(phase.Voltage is null or >= 0 and <= Plausibility.MaxVoltage, "implausible phase voltage");
                Assert.True(phase.Current is null || double.IsFinite(phase.Current.Value), "non-finite phase current");
            }

            Assert.Equal(0, r.Timestamp.UtcTicks % TimeSpan.TicksPerMillisecond);
            Assert.NotNull(ReadingJson.Serialize(r));
        }

        return output.Count;
    }
}
