using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace EnergyWs.Readings;

/// <summary>
/// The wire format: the seed's field names in the seed's order, numbers in their shortest
/// round-trip form (2450.5 stays 2450.5), timestamps ISO-8601 UTC ending in Z.
/// </summary>
internal static class ReadingJson
{
    // Options are immutable once used; one instance serves every writer.
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    /// <summary>
    /// Writes the timestamp as yyyy-MM-ddTHH:mm:ss[.fff]Z: whole seconds keep the seed's form,
    /// sub-second readings carry milliseconds without trailing zeros.
    /// </summary>
    public static string FormatTimestamp(DateTimeOffset timestamp) =>
        timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFF'Z'", CultureInfo.InvariantCulture);

    public static byte[] Serialize(Reading reading)
    {
        var buffer = new ArrayBufferWriter<byte>(192);
        Write(reading, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    public static void Write(Reading reading, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, WriterOptions);
        WriteObject(reading, writer);
    }

    public static void WriteObject(Reading reading, Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(reading);
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        Span<char> ts = stackalloc char[32];
        var utc = reading.Timestamp.UtcDateTime;
        if (!utc.TryFormat(ts, out var written, "yyyy-MM-dd'T'HH:mm:ss.FFF'Z'", CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("timestamp did not fit its buffer");
        }

        writer.WriteString(Names.Timestamp, ts[..written]);
        WriteNumber(writer, Names.PowerW, reading.PowerW);
        WriteNumber(writer, Names.Voltage, reading.Voltage);
        WriteNumber(writer, Names.Current, reading.Current);
        WriteNumber(writer, Names.EnergyKwh, reading.EnergyKwh);

        // Extra fields only when known, so the bare seed format round-trips byte for byte.
        if (reading.Device is not null)
        {
            writer.WriteString(Names.Device, reading.Device);
        }

        if (reading.Channel is not null)
        {
            writer.WriteString(Names.Channel, reading.Channel);
        }

        WriteKnown(writer, Names.EnergyReturnedKwh, reading.EnergyReturnedKwh);
        WriteKnown(writer, Names.PowerFactor, reading.PowerFactor);
        WriteKnown(writer, Names.FrequencyHz, reading.FrequencyHz);
        if (reading.Phases is { } phases)
        {
            // Flat, by quantity, as the bridge names them: a chart picks one series by its key.
            WriteKnown(writer, Names.PowerL1W, phases.L1.PowerW);
            WriteKnown(writer, Names.PowerL2W, phases.L2.PowerW);
            WriteKnown(writer, Names.PowerL3W, phases.L3.PowerW);
            WriteKnown(writer, Names.VoltageL1, phases.L1.Voltage);
            WriteKnown(writer, Names.VoltageL2, phases.L2.Voltage);
            WriteKnown(writer, Names.VoltageL3, phases.L3.Voltage);
            WriteKnown(writer, Names.CurrentL1, phases.L1.Current);
            WriteKnown(writer, Names.CurrentL2, phases.L2.Current);
            WriteKnown(writer, Names.CurrentL3, phases.L3.Current);
        }

        writer.WriteEndObject();
        writer.Flush();
    }

    private static void WriteNumber(Utf8JsonWriter writer, JsonEncodedText name, double? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static void WriteKnown(Utf8JsonWriter writer, JsonEncodedText name, double? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
    }

    internal static class Names
    {
        public static readonly JsonEncodedText Stream = JsonEncodedText.Encode("stream");
        public static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");
        public static readonly JsonEncodedText PowerW = JsonEncodedText.Encode("power_w");
        public static readonly JsonEncodedText Voltage = JsonEncodedText.Encode("voltage");
        public static readonly JsonEncodedText Current = JsonEncodedText.Encode("current");
        public static readonly JsonEncodedText EnergyKwh = JsonEncodedText.Encode("energy_kwh");
        public static readonly JsonEncodedText Device = JsonEncodedText.Encode("device");
        public static readonly JsonEncodedText Channel = JsonEncodedText.Encode("channel");
        public static readonly JsonEncodedText EnergyReturnedKwh = JsonEncodedText.Encode("energy_returned_kwh");
        public static readonly JsonEncodedText PowerFactor = JsonEncodedText.Encode("power_factor");
        public static readonly JsonEncodedText FrequencyHz = JsonEncodedText.Encode("frequency_hz");
        public static readonly JsonEncodedText PowerL1W = JsonEncodedText.Encode("power_l1_w");
        public static readonly JsonEncodedText PowerL2W = JsonEncodedText.Encode("power_l2_w");
        public static readonly JsonEncodedText PowerL3W = JsonEncodedText.Encode("power_l3_w");
        public static readonly JsonEncodedText VoltageL1 = JsonEncodedText.Encode("voltage_l1");
        public static readonly JsonEncodedText VoltageL2 = JsonEncodedText.Encode("voltage_l2");
        public static readonly JsonEncodedText VoltageL3 = JsonEncodedText.Encode("voltage_l3");
        public static readonly JsonEncodedText CurrentL1 = JsonEncodedText.Encode("current_l1");
        public static readonly JsonEncodedText CurrentL2 = JsonEncodedText.Encode("current_l2");
        public static readonly JsonEncodedText CurrentL3 = JsonEncodedText.Encode("current_l3");
    }
}
