using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace EnergyWs.Readings;

/// <summary>
/// Turns a Kafka record into zero or more readings. Runs on the consumer thread only, so any
/// per-device state it keeps needs no locking.
/// </summary>
internal sealed class RecordDecoder(IOptions<ReadingsOptions> options)
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 16 };

    private readonly int _maxRecordBytes = options.Value.MaxRecordBytes;

    public DecodeResult Decode(in KafkaRecord record, ICollection<Reading> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var value = record.Value;
        if (value is null || value.Length == 0)
        {
            return DecodeResult.Invalid(DecodeReasons.Empty);
        }

        if (value.Length > _maxRecordBytes)
        {
            return DecodeResult.Invalid(DecodeReasons.TooLarge);
        }

        try
        {
            return DecodeSeed(value, output);
        }
        catch (JsonException)
        {
            return DecodeResult.Invalid(DecodeReasons.NotJson);
        }
    }

    /// <summary>The normalized seed format: {"timestamp": ISO, "power_w": n, "voltage": n, "current": n, "energy_kwh": n}.</summary>
    private static DecodeResult DecodeSeed(ReadOnlySpan<byte> json, ICollection<Reading> output)
    {
        var reader = new Utf8JsonReader(json, ReaderOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return DecodeResult.Invalid(DecodeReasons.UnknownFormat);
        }

        DateTimeOffset? timestamp = null;
        double? power = null, voltage = null, current = null, energy = null;
        var sawPower = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var property = reader.ValueSpan;
            if (!reader.Read())
            {
                return DecodeResult.Invalid(DecodeReasons.NotJson);
            }

            if (property.SequenceEqual("timestamp"u8))
            {
                if (reader.TokenType != JsonTokenType.String ||
                    !DateTimeOffset.TryParse(reader.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var ts))
                {
                    return DecodeResult.Invalid(DecodeReasons.BadTimestamp);
                }

                timestamp = ts;
            }
            else if (property.SequenceEqual("power_w"u8))
            {
                if (!TryNumber(ref reader, out power))
                {
                    return DecodeResult.Invalid(DecodeReasons.BadNumber);
                }

                sawPower = power is not null;
            }
            else if (property.SequenceEqual("voltage"u8))
            {
                if (!TryNumber(ref reader, out voltage))
                {
                    return DecodeResult.Invalid(DecodeReasons.BadNumber);
                }
            }
            else if (property.SequenceEqual("current"u8))
            {
                if (!TryNumber(ref reader, out current))
                {
                    return DecodeResult.Invalid(DecodeReasons.BadNumber);
                }
            }
            else if (property.SequenceEqual("energy_kwh"u8))
            {
                if (!TryNumber(ref reader, out energy))
                {
                    return DecodeResult.Invalid(DecodeReasons.BadNumber);
                }
            }
            else
            {
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            // Trailing content after the object, or an unterminated object.
            return DecodeResult.Invalid(DecodeReasons.NotJson);
        }

        if (timestamp is null || !sawPower)
        {
            return DecodeResult.Invalid(DecodeReasons.UnknownFormat);
        }

        output.Add(new Reading
        {
            Timestamp = TruncateToMilliseconds(timestamp.Value),
            PowerW = power,
            Voltage = voltage,
            Current = current,
            EnergyKwh = energy,
        });
        return DecodeResult.Success;
    }

    private static bool TryNumber(ref Utf8JsonReader reader, out double? value)
    {
        value = null;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var d) || !double.IsFinite(d))
        {
            return false;
        }

        value = d;
        return true;
    }

    internal static DateTimeOffset TruncateToMilliseconds(DateTimeOffset t) =>
        new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
}

/// <summary>The reasons a record is rejected; they label <c>energyws_decode_errors_total</c>.</summary>
internal static class DecodeReasons
{
    public const string Empty = "empty";
    public const string TooLarge = "too_large";
    public const string NotJson = "not_json";
    public const string UnknownFormat = "unknown_format";
    public const string BadNumber = "bad_number";
    public const string BadTimestamp = "bad_timestamp";
}
