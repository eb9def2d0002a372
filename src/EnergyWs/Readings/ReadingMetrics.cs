using System.Diagnostics.Metrics;

namespace EnergyWs.Readings;

/// <summary>Counts what the decoding stage makes of Kafka records, by stream.</summary>
internal sealed class ReadingMetrics
{
    public const string MeterName = "EnergyWs.Readings";

    private readonly Counter<long> _records;
    private readonly Counter<long> _readings;
    private readonly Counter<long> _decodeErrors;
    private readonly Counter<long> _counterResets;

    public ReadingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _records = meter.CreateCounter<long>("energyws_kafka_records_total", "{record}", "Kafka records consumed, by result (ok / invalid).");
        _readings = meter.CreateCounter<long>("energyws_readings_total", "{reading}", "Readings decoded and published.");
        _decodeErrors = meter.CreateCounter<long>("energyws_decode_errors_total", "{record}", "Records skipped, by reason.");
        _counterResets = meter.CreateCounter<long>("energyws_energy_counter_resets_total", "{reading}", "Readings accepted although a meter's energy counter went backwards (meter reset).");
    }

    public void RecordOk(string stream) =>
        _records.Add(1, new KeyValuePair<string, object?>("result", "ok"), new KeyValuePair<string, object?>("stream", stream));

    public void RecordInvalid(string reason, string stream)
    {
        _records.Add(1, new KeyValuePair<string, object?>("result", "invalid"), new KeyValuePair<string, object?>("stream", stream));
        _decodeErrors.Add(1, new KeyValuePair<string, object?>("reason", reason), new KeyValuePair<string, object?>("stream", stream));
    }

    public void ReadingPublished(string stream) => _readings.Add(1, new KeyValuePair<string, object?>("stream", stream));

    public void EnergyCounterReset() => _counterResets.Add(1);
}
