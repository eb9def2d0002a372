using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using EnergyWs.Readings;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EnergyWs.Tests.Readings;

/// <summary>A decoder outside the host, with its own meters, and helpers to build records.</summary>
internal sealed class TestDecoder : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public TestDecoder(ReadingsOptions? options = null, TimeProvider? time = null)
    {
        Decoder = new RecordDecoder(Options.Create(options ?? new ReadingsOptions()), new ReadingMetrics(this), time ?? TimeProvider.System, NullLogger<RecordDecoder>.Instance);
    }

    public RecordDecoder Decoder { get; }

    public Meter Meter => _meters.Single();

    public static KafkaRecord Record(string? key, string? value, long? timestampMs = null, Headers? headers = null, long offset = 0) =>
        Record(key is null ? null : Encoding.UTF8.GetBytes(key), value is null ? null : Encoding.UTF8.GetBytes(value), timestampMs, headers, offset);

    public static KafkaRecord Record(byte[]? key, byte[]? value, long? timestampMs = null, Headers? headers = null, long offset = 0) =>
        new("energy", 0, offset, key, value, headers, timestampMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null);

    /// <summary>Decodes one record, asserting it is accepted; returns what it emitted.</summary>
    public List<Reading> Accept(string? key, string value, long? timestampMs = null, Headers? headers = null)
    {
        var output = new List<Reading>();
        var result = Decoder.Decode(Record(key, value, timestampMs, headers), output);
        Assert.True(result.Ok, $"rejected ({result.Reason}): {value}");
        return output;
    }

    /// <summary>Decodes one record, asserting it is rejected without output; returns the reason.</summary>
    public string Reject(string? key, string? value, long? timestampMs = null, Headers? headers = null)
    {
        var output = new List<Reading>();
        var result = Decoder.Decode(Record(key, value, timestampMs, headers), output);
        Assert.False(result.Ok, $"accepted: {value}");
        Assert.Empty(output);
        Assert.NotNull(result.Reason);
        return result.Reason;
    }

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}
