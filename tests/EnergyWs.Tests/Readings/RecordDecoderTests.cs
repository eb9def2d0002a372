using System.Text;
using Confluent.Kafka;
using EnergyWs.Readings;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Readings;

public sealed class RecordDecoderTests
{
    private const string Em1Status = "{\"id\":0,\"voltage\":240.2,\"current\":6.473,\"act_power\":1327.6,\"pf\":0.87,\"freq\":50}";

    [Fact]
    public void SeedFormat_SerializesByteExactAsBefore()
    {
        using var test = new TestDecoder();
        for (var i = 0; i < 5; i++)
        {
            var json = SeedReadings.Json(i);
            var reading = Assert.Single(test.Accept(null, json));
            Assert.Null(reading.Device);
            Assert.Equal(json, Encoding.UTF8.GetString(ReadingJson.Serialize(reading)));
        }
    }

    [Fact]
    public void Gen2Status_KeyChannelDisagreesWithBodyId_KeyWins()
    {
        using var test = new TestDecoder();
        var reading = Assert.Single(test.Accept("shellyproem50-08f9e0e5a1b2/status/em1:1", Em1Status));
        Assert.Equal("1", reading.Channel);
        Assert.Equal("shellyproem50-08f9e0e5a1b2", reading.Device);
    }

    [Fact]
    public void Gen2Status_FieldsNeverSeen_AreNull()
    {
        using var test = new TestDecoder();
        var reading = Assert.Single(test.Accept("shellyproem50-08f9e0e5a1b2/status/em1:0", Em1Status));
        Assert.Null(reading.EnergyKwh);
        Assert.Null(reading.EnergyReturnedKwh);
        Assert.Equal(0.87, reading.PowerFactor);
        Assert.Equal(50, reading.FrequencyHz);
    }

    [Fact]
    public void Gen2FullStatus_TwoChannels_EmitsOneCompleteReadingPerChannel()
    {
        using var test = new TestDecoder();
        var frame = """
            {"src":"shellyproem50-08f9e0e5a1b2","method":"NotifyFullStatus","params":{"ts":1767900600.25,
             "sys":{"uptime":5},
             "em1:0":{"id":0,"act_power":10,"voltage":230},"em1:1":{"id":1,"act_power":-20,"voltage":231},
             "em1data:0":{"id":0,"total_act_energy":1000,"total_act_ret_energy":0},"em1data:1":{"id":1,"total_act_energy":2500.5,"total_act_ret_energy":12}}}
            """;
        var readings = test.Accept(null, frame);
        Assert.Equal(2, readings.Count);
        Assert.Equal(("0", 10.0, 1.0), (readings[0].Channel!, readings[0].PowerW!.Value, readings[0].EnergyKwh!.Value));
        Assert.Equal(("1", -20.0, 2.5005, 0.012), (readings[1].Channel!, readings[1].PowerW!.Value, readings[1].EnergyKwh!.Value, readings[1].EnergyReturnedKwh!.Value));
        Assert.All(readings, r => Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1767900600250), r.Timestamp));
    }

    [Fact]
    public void Gen2ThreePhase_UnconnectedPhaseAndEmData_MeanOfLivePhasesAndEnergyMerged()
    {
        using var test = new TestDecoder();
        test.Accept("shellypro3em-c8f09e8a1b2c/status/em:0",
            "{\"id\":0,\"a_voltage\":230,\"b_voltage\":0,\"c_voltage\":232,\"total_current\":3,\"total_act_power\":700}");
        var reading = Assert.Single(test.Accept("shellypro3em-c8f09e8a1b2c/status/emdata:0", "{\"id\":0,\"total_act\":12345.6,\"total_act_ret\":10}"));
        Assert.Equal(231, reading.Voltage);
        Assert.Equal(700, reading.PowerW);
        Assert.Equal(3, reading.Current);
        Assert.Equal(12.3456, reading.EnergyKwh);
        Assert.Equal(0.01, reading.EnergyReturnedKwh);
    }

    [Fact]
    public void Gen2Frame_OtherMethodOrComponent_SkippedAsNoReadings()
    {
        using var test = new TestDecoder();
        Assert.Equal(DecodeReasons.NoReadings, test.Reject(null, "{\"src\":\"shellyplus1-a\",\"method\":\"NotifyEvent\",\"params\":{\"ts\":1,\"events\":[]}}"));
        Assert.Equal(DecodeReasons.NoReadings, test.Reject(null, "{\"src\":\"shellyplus1-a\",\"method\":\"NotifyStatus\",\"params\":{\"ts\":1,\"switch:0\":{\"id\":0,\"apower\":5}}}"));
    }

    [Fact]
    public void Gen1_MqttTopicHeader_UsedAsTopic()
    {
        using var test = new TestDecoder();
        var headers = new Headers { { RecordTopic.HeaderName, Encoding.UTF8.GetBytes("shellies/shellyem-AB/emeter/1/current") } };
        var reading = Assert.Single(test.Accept("ignored", "1.25", 1767900600000, headers));
        Assert.Equal(("shellyem-AB", "1", 1.25), (reading.Device!, reading.Channel!, reading.Current!.Value));
        Assert.Null(reading.PowerW);
    }

    [Fact]
    public void Gen1_ReactivePower_SkippedAsNoReadings()
    {
        using var test = new TestDecoder();
        Assert.Equal(DecodeReasons.NoReadings, test.Reject("shellies/shellyem-AB/emeter/0/reactive_power", "3.5"));
        Assert.Equal(DecodeReasons.NonFinite, test.Reject("shellies/shellyem-AB/emeter/0/power", "NaN"));
        Assert.Equal(DecodeReasons.BadNumber, test.Reject("shellies/shellyem-AB/emeter/0/power", "lots"));
    }

    [Fact]
    public void Timestamp_Precedence_PayloadThenEnvelopeThenRecordThenArrival()
    {
        var arrival = new DateTimeOffset(2026, 3, 1, 12, 0, 0, 123, TimeSpan.Zero).AddTicks(4567);
        using var test = new TestDecoder(time: new FakeTimeProvider(arrival));
        const string topic = "shellies/shellyem-AB/emeter/0/power";

        // Payload ts (Gen2 params.ts) beats the envelope's and the record's.
        var frame = "{\"src\":\"shellyemg3-1\",\"method\":\"NotifyStatus\",\"params\":{\"ts\":1767900601.5,\"em1:0\":{\"act_power\":1}}}";
        var envelope = $"{{\"topic\":\"shellyemg3-1/events/rpc\",\"payload\":{System.Text.Json.JsonSerializer.Serialize(frame)},\"timestamp\":1767900700000}}";
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1767900601500), test.Accept(null, envelope, 1767900800000)[0].Timestamp);

        // Envelope ts (ISO here) beats the record's.
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1767900700001),
            test.Accept(null, $"{{\"topic\":\"{topic}\",\"payload\":\"5\",\"timestamp\":\"2026-01-08T19:31:40.001999Z\"}}", 1767900800000)[0].Timestamp);

        // The record's CreateTime, then arrival truncated to milliseconds.
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1767900800000), test.Accept(topic, "6", 1767900800000)[0].Timestamp);
        var atArrival = test.Accept(topic, "7")[0];
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 12, 0, 0, 123, TimeSpan.Zero), atArrival.Timestamp);
        Assert.Equal(TimeSpan.Zero, atArrival.Timestamp.Offset);
    }

    [Fact]
    public void Emqx4Envelope_Base64Payload_Decoded()
    {
        using var test = new TestDecoder();
        var payload = Convert.ToBase64String(Encoding.UTF8.GetBytes(Em1Status));
        var reading = Assert.Single(test.Accept("client-1", $"{{\"topic\":\"shellyproem50-1/status/em1:0\",\"payload\":\"{payload}\",\"qos\":0,\"timestamp\":1767900600000}}"));
        Assert.Equal(("shellyproem50-1", 1327.6), (reading.Device!, reading.PowerW!.Value));
    }

    [Fact]
    public void KafkaConnectEnvelope_SchemaPayloadAroundEmqxEnvelope_Decoded()
    {
        using var test = new TestDecoder();
        var bytesPayload = Convert.ToBase64String(Encoding.UTF8.GetBytes("230.5"));
        var reading = Assert.Single(test.Accept("shellies/shellyem-AB/emeter/0/voltage", $"{{\"schema\":{{\"type\":\"bytes\",\"optional\":false}},\"payload\":\"{bytesPayload}\"}}"));
        Assert.Equal(230.5, reading.Voltage);

        var nested = $"{{\"schema\":{{\"type\":\"struct\"}},\"payload\":{{\"topic\":\"shellyproem50-2/status/em1:0\",\"payload\":{Em1Status}}}}}";
        Assert.Equal("shellyproem50-2", Assert.Single(test.Accept(null, nested)).Device);
    }

    [Theory]
    [InlineData("{\"id\":0,\"act_power\":1000001}", DecodeReasons.ImplausiblePower)]
    [InlineData("{\"id\":0,\"act_power\":-1000001}", DecodeReasons.ImplausiblePower)]
    [InlineData("{\"id\":0,\"voltage\":1000.5}", DecodeReasons.ImplausibleVoltage)]
    [InlineData("{\"id\":0,\"voltage\":-1}", DecodeReasons.ImplausibleVoltage)]
    [InlineData("{\"id\":0,\"act_power\":\"12\"}", DecodeReasons.BadNumber)]
    [InlineData("{\"id\":0,\"act_power\":1e400}", DecodeReasons.NonFinite)]
    public void ImplausibleOrBadValue_RejectedAndStateUntouched(string body, string reason)
    {
        using var test = new TestDecoder();
        const string topic = "shellyproem50-3/status/em1:0";
        test.Accept(topic, "{\"id\":0,\"act_power\":100,\"voltage\":230}");
        Assert.Equal(reason, test.Reject(topic, body));
        var after = Assert.Single(test.Accept(topic, "{\"id\":0,\"current\":1}"));
        Assert.Equal((100.0, 230.0), (after.PowerW!.Value, after.Voltage!.Value));
    }

    [Fact]
    public void EnergyCounterGoesBackwards_AcceptedAndCounted()
    {
        using var test = new TestDecoder();
        using var resets = new MetricCollector<long>(test.Meter, "energyws_energy_counter_resets_total");
        const string topic = "shellies/shellyem-AB/emeter/0/total";
        test.Accept(topic, "9188.8");
        test.Accept(topic, "9190");
        Assert.Empty(resets.GetMeasurementSnapshot());
        var reading = Assert.Single(test.Accept(topic, "3"));
        Assert.Equal(0.003, reading.EnergyKwh);
        Assert.Equal(1, resets.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    [Fact]
    public void Record_OverMaxRecordBytes_RejectedUnread()
    {
        using var test = new TestDecoder(new ReadingsOptions { MaxRecordBytes = 64 });
        Assert.Equal(DecodeReasons.TooLarge, test.Reject(null, SeedReadings.Json(1) + new string(' ', 64)));
    }

    [Fact]
    public void DeviceState_AtCapacity_NewDevicesStillEmitButAreNotRemembered()
    {
        using var test = new TestDecoder(new ReadingsOptions { MaxDevices = 2 });
        for (var i = 0; i < 5; i++)
        {
            Assert.Single(test.Accept($"shellies/shellyem-{i}/emeter/0/power", "1"));
        }

        Assert.Equal(2, test.Decoder.StateCount);
        var unremembered = Assert.Single(test.Accept("shellies/shellyem-4/emeter/0/voltage", "230"));
        Assert.Null(unremembered.PowerW);
        var remembered = Assert.Single(test.Accept("shellies/shellyem-0/emeter/0/voltage", "230"));
        Assert.Equal(1, remembered.PowerW);
    }

    [Fact]
    public void DeviceId_TooLongOrMissing_RejectedAsBadDevice()
    {
        using var test = new TestDecoder();
        Assert.Equal(DecodeReasons.BadDevice, test.Reject($"shellies/{new string('x', 200)}/emeter/0/power", "1"));
        Assert.Equal(DecodeReasons.BadDevice, test.Reject(null, "{\"method\":\"NotifyStatus\",\"params\":{\"em1:0\":{\"act_power\":1}}}"));
    }

    [Fact]
    public void Mapping_ByHeaderAndKeyPattern_MapsScaledFields()
    {
        var options = new ReadingsOptions();
        options.Mappings.Add(new MappingOptions
        {
            Key = "^meter-",
            Headers = { ["source"] = "^sdm" },
            Fields = { ["device"] = "id", ["channel"] = "ch", ["power_w"] = "p.0*1000", ["energy_kwh"] = "e", ["frequency_hz"] = "f" },
        });
        using var test = new TestDecoder(options);
        var headers = new Headers { { "source", "sdm630"u8.ToArray() } };
        var reading = Assert.Single(test.Accept("meter-7", "{\"id\":7,\"ch\":\"L1\",\"p\":[1.5,2],\"e\":\"12.5\",\"f\":null}", 1767900600000, headers));
        Assert.Equal(("7", "L1", 1500.0, 12.5), (reading.Device!, reading.Channel!, reading.PowerW!.Value, reading.EnergyKwh!.Value));
        Assert.Null(reading.FrequencyHz);

        // Same payload without the header: the mapping does not apply and nothing else knows it.
        Assert.Equal(DecodeReasons.UnknownFormat, test.Reject("meter-7", "{\"id\":7,\"p\":[1.5]}"));
    }

    [Fact]
    public void MappingsValidator_BadRegexPathOrField_NamesTheSetting()
    {
        var options = new ReadingsOptions();
        options.Mappings.Add(new MappingOptions { Fields = { ["power_w"] = "a.b" } });
        options.Mappings.Add(new MappingOptions { Topic = "([", Fields = { ["power_w"] = "a..b", ["watts"] = "x", ["device"] = "d*2" } });
        options.Mappings.Add(new MappingOptions());

        var result = new ReadingsMappingsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Contains(failures, f => f.StartsWith("Readings:Mappings:1:Topic: invalid regular expression", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Readings:Mappings:1:Fields:power_w:", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Readings:Mappings:1:Fields:watts: unknown reading field", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Readings:Mappings:1:Fields:device:", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Readings:Mappings:2:Fields:", StringComparison.Ordinal));
        Assert.DoesNotContain(failures, f => f.StartsWith("Readings:Mappings:0", StringComparison.Ordinal));
    }
}
