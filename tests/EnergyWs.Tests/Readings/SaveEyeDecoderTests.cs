using System.Text;
using System.Text.Json.Nodes;
using EnergyWs.Readings;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Readings;

/// <summary>The deployment's SaveEye meter, as its bridge publishes it and as the device does, decodes without configuration.</summary>
public sealed class SaveEyeDecoderTests
{
    /// <summary>The fixture's energy example: 788 W over three phases, 100,012,345 Wh, currents in mA, power factor in %.</summary>
    private const string Expected =
        "{\"timestamp\":\"2026-11-30T18:04:05.123Z\",\"power_w\":788,\"voltage\":238,\"current\":3.32,\"energy_kwh\":100012.345," +
        "\"device\":\"9MANZWNG\",\"energy_returned_kwh\":0.081,\"power_factor\":0.97," +
        "\"power_l1_w\":512,\"power_l2_w\":180,\"power_l3_w\":96,\"voltage_l1\":238,\"voltage_l2\":237,\"voltage_l3\":239," +
        "\"current_l1\":2.15,\"current_l2\":0.76,\"current_l3\":0.41}";

    /// <summary>What the broker stamped on the record; used when the payload has no time of its own.</summary>
    private const long RecordTimeMs = 1796061845000; // 2026-11-30T18:04:05Z

    private static string Json(Reading reading) => Encoding.UTF8.GetString(ReadingJson.Serialize(reading));

    /// <summary>The raw SaveEye payload alone: the example without what the bridge adds.</summary>
    private static string RawOnly(Action<JsonObject>? change = null) => HomelabStreams.Example("energy", r =>
    {
        r.Remove("ts");
        r.Remove("tags");
        r.Remove("fields");
        change?.Invoke(r);
    });

    [Fact]
    public void BridgeRecord_FixtureExample_NormalizedWithUnitsConvertedAndPhases()
    {
        using var test = new TestDecoder();

        var reading = Assert.Single(test.Accept("9MANZWNG", HomelabStreams.Example("energy"), RecordTimeMs + 999));

        // ts has nine fraction digits; the reading keeps milliseconds.
        Assert.Equal(Expected, Json(reading));
    }

    [Fact]
    public void RawPayloadOnly_SameReading_TimeFromTheRecord()
    {
        using var test = new TestDecoder();

        var reading = Assert.Single(test.Accept(null, RawOnly(), RecordTimeMs));

        Assert.Equal(Expected.Replace("05.123Z", "05Z", StringComparison.Ordinal), Json(reading));
    }

    [Fact]
    public void RawPayloadOnly_DeviceTimestamp_IsTheReadingsTime()
    {
        using var test = new TestDecoder();

        var reading = Assert.Single(test.Accept(null, RawOnly(r => r["timestamp"] = "2026-11-30T18:04:04Z"), RecordTimeMs));

        Assert.Equal(DateTimeOffset.Parse("2026-11-30T18:04:04Z", System.Globalization.CultureInfo.InvariantCulture), reading.Timestamp);
    }

    [Fact]
    public void BridgeFieldsAndRawDisagree_BridgeFieldsWin_RawFillsWhatTheyLack()
    {
        using var test = new TestDecoder();
        var record = HomelabStreams.Example("energy", r =>
        {
            r["activeActualConsumption"]!["total"] = 9999;
            r["saveeyeDeviceSerialNumber"] = "OTHER";
            r["rmsVoltage"]!["L2"] = 231;
            r["fields"]!.AsObject().Remove("voltage_l2");
            r["fields"]!.AsObject().Remove("power_factor");
        });

        var reading = Assert.Single(test.Accept(null, record));

        Assert.Equal((788.0, "9MANZWNG"), (reading.PowerW!.Value, reading.Device!));
        Assert.Equal(231, reading.Phases!.L2.Voltage);
        Assert.Equal(0.97, reading.PowerFactor);
    }

    [Fact]
    public void Export_PowerIsImportMinusExport_PerPhaseFromTheRawProduction()
    {
        using var test = new TestDecoder();
        var record = HomelabStreams.Example("energy", r =>
        {
            r["fields"]!["active_power_total"] = 0;
            r["fields"]!["active_production_total"] = 1500;
            foreach (var line in new[] { "l1", "l2", "l3" })
            {
                r["fields"]![$"active_power_{line}"] = 0;
            }

            r["activeActualProduction"] = new JsonObject { ["L1"] = 1000, ["L2"] = 400, ["L3"] = 100, ["total"] = 1500 };
        });

        var reading = Assert.Single(test.Accept(null, record));

        Assert.Equal(-1500, reading.PowerW);
        Assert.Equal((-1000.0, -400.0, -100.0), (reading.Phases!.L1.PowerW!.Value, reading.Phases.L2.PowerW!.Value, reading.Phases.L3.PowerW!.Value));
    }

    [Fact]
    public void UnconnectedPhase_VoltageIsTheMeanOfLivePhases_PhaseStillShown()
    {
        using var test = new TestDecoder();

        var reading = Assert.Single(test.Accept(null, HomelabStreams.Example("energy", r => r["fields"]!["voltage_l2"] = 0)));

        Assert.Equal(238.5, reading.Voltage);
        Assert.Equal(0, reading.Phases!.L2.Voltage);
    }

    [Fact]
    public void SinglePhaseMeter_NoPhaseFields_TotalsAreItsOnePhase()
    {
        using var test = new TestDecoder();
        var record = RawOnly(r =>
        {
            r["activeActualConsumption"] = new JsonObject { ["L1"] = 512, ["total"] = 512 };
            r["rmsVoltage"] = new JsonObject { ["L1"] = 231 };
            r["rmsCurrent"] = new JsonObject { ["L1"] = 2240 };
        });

        var reading = Assert.Single(test.Accept(null, record, RecordTimeMs));

        Assert.Null(reading.Phases);
        Assert.Equal((512.0, 231.0, 2.24), (reading.PowerW!.Value, reading.Voltage!.Value, reading.Current!.Value));
        Assert.DoesNotContain("_l1", Json(reading), StringComparison.Ordinal);
    }

    [Fact]
    public void MissingPhase_ItsFieldsAreOmittedNotNull()
    {
        using var test = new TestDecoder();
        var record = HomelabStreams.Example("energy", r =>
        {
            foreach (var name in new[] { "active_power_l3", "voltage_l3", "current_l3" })
            {
                r["fields"]!.AsObject().Remove(name);
            }

            foreach (var group in new[] { "activeActualConsumption", "rmsVoltage", "rmsCurrent" })
            {
                r[group]!.AsObject().Remove("L3");
            }
        });

        var json = Json(Assert.Single(test.Accept(null, record)));

        Assert.Contains("\"current_l2\":0.76}", json, StringComparison.Ordinal);
        Assert.DoesNotContain("_l3", json, StringComparison.Ordinal);
        Assert.Contains("\"current\":2.91,", json, StringComparison.Ordinal);
    }

    [Fact]
    public void PowerAbove32kW_IsAReading()
    {
        // The home has drawn more than a SMALLINT holds; nothing here is 16-bit.
        using var test = new TestDecoder();

        var reading = Assert.Single(test.Accept(null, HomelabStreams.Example("energy", r => r["fields"]!["active_power_total"] = 40_000)));

        Assert.Equal(40_000, reading.PowerW);
    }

    [Fact]
    public void EmittedReading_ReadBackAsTheNormalizedFormat_IsByteIdentical()
    {
        using var test = new TestDecoder();
        var emitted = Json(Assert.Single(test.Accept(null, HomelabStreams.Example("energy"))));

        using var other = new TestDecoder();
        var again = Assert.Single(other.Accept(null, emitted));

        Assert.Equal(emitted, Json(again));
        Assert.NotNull(again.Phases);
    }

    [Fact]
    public void SeedRecord_HasNoPhases_AndItsJsonIsUnchanged()
    {
        using var test = new TestDecoder();
        var seed = SeedReadings.Json(7);

        var reading = Assert.Single(test.Accept(null, seed));

        Assert.Null(reading.Phases);
        Assert.Equal(seed, Json(reading));
    }

    public static TheoryData<string, string> Malformed() => new()
    {
        { HomelabStreams.Example("energy", r => r["fields"]!["active_power_total"] = "NaN"), DecodeReasons.BadNumber },
        { HomelabStreams.Example("energy", r => r["fields"]!["voltage_l1"] = "230"), DecodeReasons.BadNumber },
        { HomelabStreams.Example("energy", r => r["fields"]!["current_l2"] = new JsonObject()), DecodeReasons.BadNumber },
        { HomelabStreams.Example("energy", r => r["fields"]!["active_energy_total"] = new JsonArray(1)), DecodeReasons.BadNumber },
        { RawOnly(r => r["rmsVoltage"] = 230), DecodeReasons.BadNumber },
        { RawOnly(r => r["rmsCurrent"]!["L1"] = true), DecodeReasons.BadNumber },
        { HomelabStreams.Example("energy").Replace("\"active_power_total\":788", "\"active_power_total\":1e999", StringComparison.Ordinal), DecodeReasons.NonFinite },
        { HomelabStreams.Example("energy", r => (r["fields"]!["active_power_total"], r["fields"]!["active_production_total"]) = (1.7e308, -1.7e308)), DecodeReasons.NonFinite },
        { HomelabStreams.Example("energy", r => r["fields"]!["active_power_total"] = 2_000_000), DecodeReasons.ImplausiblePower },
        { HomelabStreams.Example("energy", r => r["fields"]!["active_power_l2"] = 5e6), DecodeReasons.ImplausiblePower },
        { HomelabStreams.Example("energy", r => r["fields"]!["voltage_l3"] = -5), DecodeReasons.ImplausibleVoltage },
        { HomelabStreams.Example("energy", r => r["fields"]!["voltage_l1"] = 40_000), DecodeReasons.ImplausibleVoltage },
        { HomelabStreams.Example("energy", r => r["ts"] = "yesterday"), DecodeReasons.BadTimestamp },
        { HomelabStreams.Example("energy", r => r["ts"] = new JsonObject()), DecodeReasons.BadTimestamp },
        { HomelabStreams.Example("energy", r => r["tags"]!["device_serial"] = 42), DecodeReasons.BadDevice },
        { HomelabStreams.Example("energy", r => r["tags"]!["device_serial"] = ""), DecodeReasons.BadDevice },
        { HomelabStreams.Example("energy", r => r["tags"]!["device_serial"] = new string('x', 200)), DecodeReasons.BadDevice },
        { RawOnly(r => r.Remove("saveeyeDeviceSerialNumber")), DecodeReasons.BadDevice },
        { """{"saveeyeDeviceSerialNumber":"9MANZWNG","activeActualConsumption":{}}""", DecodeReasons.NoReadings },
        { """{"ts":"2026-11-30T18:04:05Z","tags":{"device_serial":"9MANZWNG"},"fields":{"active_power_total":null}}""", DecodeReasons.NoReadings },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedRecord_SkippedWithItsReason_StateUntouched(string record, string reason)
    {
        using var test = new TestDecoder();
        test.Accept(null, HomelabStreams.Example("energy"));

        Assert.Equal(reason, test.Reject(null, record));

        // The device's last known fields are still the good record's.
        var next = Assert.Single(test.Accept(null, """{"tags":{"device_serial":"9MANZWNG"},"fields":{"active_power_total":100}}"""));
        Assert.Equal((100.0, 100012.345, 238.0), (next.PowerW!.Value, next.EnergyKwh!.Value, next.Voltage!.Value));
    }
}
