using System.Text;
using System.Text.Json;
using EnergyWs.Readings;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Readings;

/// <summary>Records of json streams (heat pump, plugs, indoor temperature) become frames that name their stream.</summary>
public sealed class JsonStreamDecoderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 18, 5, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);

    private static StreamDefinition Stream(string name, StreamOptions options)
    {
        var all = new StreamsOptions { DefaultEnergyTopic = "homelab.energy" };
        all.Streams[name] = options;
        var errors = new List<string>();
        var streams = StreamCatalog.Build(all, errors);
        Assert.Empty(errors);
        return streams.Single(s => s.Name == name);
    }

    private (DecodeResult Result, Reading? Reading, JsonElement Frame) Decode(StreamDefinition stream, string value, DateTimeOffset? recordTime = null, int maxRecordBytes = ReadingsOptions.DefaultMaxRecordBytes)
    {
        var decoder = new JsonStreamDecoder(Options.Create(new ReadingsOptions { MaxRecordBytes = maxRecordBytes }), _time);
        var record = new KafkaRecord(stream.Topic, 0, 0, null, Encoding.UTF8.GetBytes(value), null, recordTime);
        var result = decoder.Decode(record, stream, out var reading, out var json);
        return (result, reading, json is null ? default : HomelabStreams.Parse(Encoding.UTF8.GetString(json)));
    }

    [Fact]
    public void Passthrough_HeatPumpRecord_KeepsEveryMemberAfterStreamTimeAndDevice()
    {
        var stream = Stream("heatpump", new StreamOptions { Topic = "homelab-heatpump-telemetry", Device = "device_id", Timestamp = "ts" });
        var record = HomelabStreams.Example("heatpump");

        var (result, reading, frame) = Decode(stream, record);

        Assert.True(result.Ok, result.Reason);
        var names = frame.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["stream", "timestamp", "device"], names[..3]);
        Assert.Equal("heatpump", frame.GetProperty("stream").GetString());
        // The bridge's nanoseconds, to the millisecond.
        Assert.Equal("2026-11-30T18:04:07.501Z", frame.GetProperty("timestamp").GetString());
        Assert.Equal("thermiq-1", frame.GetProperty("device").GetString());
        var original = HomelabStreams.Parse(record);
        Assert.Equal(original.EnumerateObject().Select(p => p.Name), names[3..]);
        Assert.Equal(original.GetProperty("fields").GetRawText(), frame.GetProperty("fields").GetRawText());
        Assert.Equal((1, "thermiq-1", new DateTimeOffset(2026, 11, 30, 18, 4, 7, 501, TimeSpan.Zero)), (reading!.Stream, reading.Device, reading.Timestamp));
    }

    [Fact]
    public void Projection_ConfiguredFields_InNameOrderScaledMissingIsNull()
    {
        var stream = Stream("heatpump", new StreamOptions
        {
            Topic = "homelab-heatpump-telemetry",
            Device = "tags.device_id",
            Fields =
            {
                ["outdoor_c"] = "fields.outdoor_temp",
                ["compressor_on"] = "fields.compressor_on",
                ["compressor_s"] = "fields.runtime_compressor*3600",
                ["heatstop"] = "fields.heatstop",
                ["pressure"] = "fields.pressure_hpa",
            },
        });

        var (result, _, frame) = Decode(stream, HomelabStreams.Example("heatpump"));

        Assert.True(result.Ok, result.Reason);
        Assert.Equal(
            """{"stream":"heatpump","timestamp":"2026-11-30T18:05:00Z","device":"thermiq-1","compressor_on":true,"compressor_s":162442800,"heatstop":null,"outdoor_c":-3,"pressure":null}""",
            frame.GetRawText());
    }

    [Fact]
    public void Timestamp_NotConfiguredOrUnreadable_IsTheRecordsCreateTimeElseArrival()
    {
        var plugs = Stream("plugs", new StreamOptions { Topic = "homelab-plug-telemetry", Device = "plug_id" });
        var created = new DateTimeOffset(2026, 11, 30, 18, 4, 30, 250, TimeSpan.Zero);
        Assert.Equal("2026-11-30T18:04:30.25Z", Decode(plugs, HomelabStreams.Example("plugs"), created).Frame.GetProperty("timestamp").GetString());
        Assert.Equal("2026-11-30T18:05:00Z", Decode(plugs, HomelabStreams.Example("plugs")).Frame.GetProperty("timestamp").GetString());

        var stamped = Stream("plugs", new StreamOptions { Topic = "homelab-plug-telemetry", Timestamp = "uptime_seconds.x" });
        Assert.Equal("2026-11-30T18:05:00Z", Decode(stamped, HomelabStreams.Example("plugs")).Frame.GetProperty("timestamp").GetString());
    }

    [Fact]
    public void Passthrough_MembersNamedLikeTheFramesOwn_AreLeftOutNotDuplicated()
    {
        var stream = Stream("plugs", new StreamOptions { Topic = "t", Device = "plug_id" });

        var (result, _, frame) = Decode(stream, """{"stream":"x","timestamp":"then","device":"d","plug_id":"p1","status":true}""");

        Assert.True(result.Ok, result.Reason);
        Assert.Equal("""{"stream":"plugs","timestamp":"2026-11-30T18:05:00Z","device":"p1","plug_id":"p1","status":true}""", frame.GetRawText());
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("21.3", "not_object")]
    [InlineData("[1,2]", "not_object")]
    [InlineData("\"on\"", "not_object")]
    [InlineData("{\"a\":", "not_json")]
    [InlineData("{\"plug_id\":{\"x\":1}}", "bad_device")]
    [InlineData("{\"plug_id\":\"\"}", "bad_device")]
    [InlineData("{\"plug_id\":\"a\\u0001b\"}", "bad_device")]
    [InlineData("{\"a\":\"\\ud800\"}", "bad_text")]
    public void BadRecord_IsSkippedWithItsReason(string value, string reason)
    {
        var stream = Stream("plugs", new StreamOptions { Topic = "t", Device = "plug_id" });

        var (result, reading, _) = Decode(stream, value);

        Assert.Equal(DecodeResult.Invalid(reason), result);
        Assert.Null(reading);
    }

    [Fact]
    public void BadRecord_TooLargeOrTooDeep_IsSkippedWithItsReason()
    {
        var stream = Stream("plugs", new StreamOptions { Topic = "t" });

        Assert.Equal(DecodeResult.Invalid("too_large"), Decode(stream, $"{{\"a\":\"{new string('x', 200)}\"}}", maxRecordBytes: 128).Result);
        Assert.Equal(DecodeResult.Invalid("too_deep"), Decode(stream, string.Concat(Enumerable.Repeat("{\"a\":", 40)) + "1" + new string('}', 40)).Result);
    }

    [Fact]
    public void Device_Number_IsItsText()
    {
        var stream = Stream("plugs", new StreamOptions { Topic = "t", Device = "id" });

        Assert.Equal("4711", Decode(stream, """{"id":4711}""").Reading!.Device);
    }
}
