using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace EnergyWs.Readings;

/// <summary>
/// Makes one frame of a record of a <c>json</c> stream: the stream's name, the time, the device
/// (when the stream names its path), then the record's own members, or the projection its
/// <c>Fields</c> configure. Runs on the consumer thread only, so its scratch buffer needs no locking.
/// </summary>
/// <remarks>
/// A frame's JSON is <c>{"stream":…,"timestamp":…,"device":…,…}</c>. A member of the record named
/// like one of those three is left out in favour of the service's own value, so a frame never
/// carries a name twice.
/// </remarks>
internal sealed class JsonStreamDecoder(IOptions<ReadingsOptions> options, TimeProvider time)
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = RecordDecoder.MaxDepth };
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    private readonly int _maxRecordBytes = options.Value.MaxRecordBytes;
    private readonly ArrayBufferWriter<byte> _buffer = new(512);

    /// <summary>The frame's reading (time, device and stream only) and JSON, or why the record has none.</summary>
    public DecodeResult Decode(in KafkaRecord record, StreamDefinition stream, out Reading? reading, out byte[]? json)
    {
        ArgumentNullException.ThrowIfNull(stream);
        reading = null;
        json = null;
        var value = record.Value;
        if (value is null || value.Length == 0)
        {
            return DecodeResult.Invalid(DecodeReasons.Empty);
        }

        if (value.Length > _maxRecordBytes)
        {
            return DecodeResult.Invalid(DecodeReasons.TooLarge);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(value, DocumentOptions);
        }
        catch (JsonException)
        {
            return DecodeResult.Invalid(JsonValues.NestsDeeperThan(value, RecordDecoder.MaxDepth) ? DecodeReasons.TooDeep : DecodeReasons.NotJson);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                // A bare number or string (a Shelly Gen1 topic) has no members to pass on.
                return DecodeResult.Invalid(DecodeReasons.NotObject);
            }

            // Past this check no string read below can throw (see HasReadableText).
            if (!JsonValues.HasReadableText(value))
            {
                return DecodeResult.Invalid(DecodeReasons.BadText);
            }

            string? device = null;
            if (stream.Device is { } devicePath && devicePath.TryResolve(root, out var id) && id.ValueKind != JsonValueKind.Null)
            {
                device = id.ValueKind switch
                {
                    JsonValueKind.String => id.GetString(),
                    JsonValueKind.Number => id.GetRawText(),
                    _ => null,
                };
                if (!MeterState.IsValidId(device))
                {
                    return DecodeResult.Invalid(DecodeReasons.BadDevice);
                }
            }

            // The record's own time when the stream names it; the record's CreateTime, else arrival.
            DateTimeOffset timestamp = default;
            if (stream.Timestamp is not { } timePath || !timePath.TryResolve(root, out var at) || !JsonValues.TryTimestamp(at, out timestamp))
            {
                timestamp = record.Timestamp ?? time.GetUtcNow();
            }

            timestamp = RecordDecoder.TruncateToMilliseconds(timestamp);
            reading = new Reading { Timestamp = timestamp, Device = device, Stream = stream.Index };
            json = Write(root, stream, timestamp, device);
            return DecodeResult.Success;
        }
    }

    private byte[] Write(JsonElement root, StreamDefinition stream, DateTimeOffset timestamp, string? device)
    {
        _buffer.ResetWrittenCount();
        using var writer = new Utf8JsonWriter(_buffer, WriterOptions);
        writer.WriteStartObject();
        writer.WriteString(ReadingJson.Names.Stream, stream.Name);
        writer.WriteString(ReadingJson.Names.Timestamp, ReadingJson.FormatTimestamp(timestamp));
        if (device is not null)
        {
            writer.WriteString(ReadingJson.Names.Device, device);
        }

        if (stream.Fields.Length == 0)
        {
            foreach (var member in root.EnumerateObject())
            {
                if (!member.NameEquals("stream"u8) && !member.NameEquals("timestamp"u8) && !member.NameEquals("device"u8))
                {
                    member.WriteTo(writer);
                }
            }
        }
        else
        {
            foreach (var (name, path) in stream.Fields)
            {
                writer.WritePropertyName(name);
                if (!path.TryResolve(root, out var field))
                {
                    writer.WriteNullValue();
                }
                else if (path.Scale != 1 && field.ValueKind == JsonValueKind.Number && field.TryGetDouble(out var number))
                {
                    var scaled = JsonValues.Scale(number, path.Scale);
                    if (double.IsFinite(scaled))
                    {
                        writer.WriteNumberValue(scaled);
                    }
                    else
                    {
                        writer.WriteNullValue();
                    }
                }
                else
                {
                    field.WriteTo(writer);
                }
            }
        }

        writer.WriteEndObject();
        writer.Flush();
        return _buffer.WrittenSpan.ToArray();
    }
}
