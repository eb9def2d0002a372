using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EnergyWs.Readings;

/// <summary>
/// Turns a Kafka record into zero or more readings: finds the MQTT topic (header, key or JSON
/// envelope), unwraps envelopes, hands the payload to the configured mappings or the built-in
/// formats (Shelly Gen2, Shelly Gen1, SaveEye and its bridge, the seed format), checks the values
/// and merges them into the per-device state. Runs on the consumer thread only, so its state and
/// scratch need no locking.
/// </summary>
internal sealed class RecordDecoder : IRecordDecoder
{
    /// <summary>Meter JSON nests 3-4 levels, envelopes add 2; anything deeper is hostile.</summary>
    public const int MaxDepth = 32;

    /// <summary>An envelope inside an envelope happens (Kafka Connect around EMQX); deeper is not a bridge.</summary>
    private const int MaxEnvelopeNesting = 3;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    private readonly int _maxRecordBytes;
    private readonly List<FieldMapping> _mappings;
    private readonly MeterState _state;
    private readonly ReadingMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<MeterUpdate> _updates = new(4);

    // The record being decoded, for the mappings' key and header conditions.
    private string? _key;
    private Headers? _headers;
    private DateTimeOffset? _envelopeTimestamp;

    // At most one log line per kind and interval; the rest are counted into the next.
    private readonly LogThrottle _resets;
    private readonly LogThrottle _full;

    public RecordDecoder(IOptions<ReadingsOptions> options, ReadingMetrics metrics, TimeProvider time, ILogger<RecordDecoder> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        _mappings = FieldMapping.CompileAll(options.Value.Mappings, errors);
        if (errors.Count > 0)
        {
            // The options validator reports these at start; reaching here means it was bypassed.
            throw new OptionsValidationException(ReadingsOptions.Section, typeof(ReadingsOptions), errors);
        }

        _maxRecordBytes = options.Value.MaxRecordBytes;
        _state = new MeterState(options.Value.MaxDevices);
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _resets = new LogThrottle(time, LogThrottle.DefaultInterval);
        _full = new LogThrottle(time, LogThrottle.DefaultInterval);
    }

    /// <summary>Device+channel entries held; bounded by <see cref="ReadingsOptions.MaxDevices"/>.</summary>
    public int StateCount => _state.Count;

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

        _updates.Clear();
        _key = RecordTopic.KeyText(record);
        _headers = record.Headers;
        _envelopeTimestamp = null;
        var reason = DecodePayload(value, RecordTopic.From(record, _key), nesting: 0) ?? Check();
        _key = null;
        _headers = null;
        if (reason is not null)
        {
            return DecodeResult.Invalid(reason);
        }

        // Timestamp precedence: the payload's own, the envelope's, the record's CreateTime, arrival.
        var fallback = _envelopeTimestamp ?? record.Timestamp ?? _time.GetUtcNow();
        foreach (var update in _updates)
        {
            output.Add(Emit(update, TruncateToMilliseconds(update.Timestamp ?? fallback), record));
        }

        return DecodeResult.Success;
    }

    internal static DateTimeOffset TruncateToMilliseconds(DateTimeOffset t) =>
        new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

    private string? DecodePayload(ReadOnlyMemory<byte> payload, string? topic, int nesting)
    {
        var span = payload.Span;
        var start = 0;
        while (start < span.Length && span[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }

        if (start == span.Length)
        {
            return DecodeReasons.Empty;
        }

        var first = span[start];
        if (first is not ((byte)'{' or (byte)'['))
        {
            return ShellyGen1Decoder.IsEmeterTopic(topic)
                ? ShellyGen1Decoder.Decode(span, topic!, _updates)
                : DecodeReasons.NotJson;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload, DocumentOptions);
        }
        catch (JsonException)
        {
            return JsonValues.NestsDeeperThan(span, MaxDepth) ? DecodeReasons.TooDeep : DecodeReasons.NotJson;
        }

        using (document)
        {
            // Past this check no string the decoders read can throw (see HasReadableText).
            return JsonValues.HasReadableText(span)
                ? DecodeElement(document.RootElement, topic, nesting)
                : DecodeReasons.BadText;
        }
    }

    private string? DecodeElement(JsonElement root, string? topic, int nesting)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return DecodeReasons.UnknownFormat;
        }

        if (Envelope.IsEnvelope(root))
        {
            if (nesting >= MaxEnvelopeNesting)
            {
                return DecodeReasons.BadEnvelope;
            }

            if (Envelope.Read(root, ref topic, ref _envelopeTimestamp, out var payload) is { } bad)
            {
                return bad;
            }

            return payload.ValueKind switch
            {
                JsonValueKind.Object => DecodeElement(payload, topic, nesting + 1),
                JsonValueKind.String => Envelope.PayloadBytes(payload) is { } bytes
                    ? DecodePayload(bytes, topic, nesting + 1)
                    : DecodeReasons.Empty,
                JsonValueKind.Null => DecodeReasons.Empty,
                _ => DecodeReasons.BadEnvelope,
            };
        }

        // Configured mappings first: an operator's explicit rule beats our guess.
        foreach (var mapping in _mappings)
        {
            if (MappingDecoder.Matches(mapping, topic, _key, _headers, root))
            {
                return MappingDecoder.Decode(mapping, root, _updates);
            }
        }

        if (ShellyGen2Decoder.IsRpcFrame(root))
        {
            return ShellyGen2Decoder.DecodeRpcFrame(root, topic, _updates);
        }

        // Before the topic-based guesses: this shape is unmistakable, whatever the record is keyed by.
        if (SaveEyeDecoder.Matches(root))
        {
            return SaveEyeDecoder.Decode(root, _updates);
        }

        if (ShellyGen2Decoder.IsStatusTopic(topic))
        {
            return ShellyGen2Decoder.DecodeStatus(root, topic!, _updates);
        }

        return NormalizedReadingDecoder.Matches(root) ? NormalizedReadingDecoder.Decode(root, _updates) : DecodeReasons.UnknownFormat;
    }

    /// <summary>Rejects the whole record if any part of it is unbelievable: one bad value taints the message.</summary>
    private string? Check()
    {
        foreach (var update in _updates)
        {
            if ((Plausibility.Check(update.Fields) ?? Plausibility.Check(update.Phases)) is { } reason)
            {
                return reason;
            }

            var needsDevice = !update.Complete;
            if ((needsDevice || update.Device is not null) && !MeterState.IsValidId(update.Device))
            {
                return DecodeReasons.BadDevice;
            }

            if (update.Channel is not null && !MeterState.IsValidId(update.Channel))
            {
                return DecodeReasons.BadDevice;
            }
        }

        return _updates.Count == 0 ? DecodeReasons.NoReadings : null;
    }

    private Reading Emit(in MeterUpdate update, DateTimeOffset timestamp, in KafkaRecord record)
    {
        var fields = update.Fields;
        if (!update.Complete)
        {
            var device = update.Device!;
            var channel = update.Channel ?? "";
            fields = _state.Merge(device, channel, update.Fields, out var wentBackFrom, out var stored);
            if (wentBackFrom is { } previous)
            {
                _metrics.EnergyCounterReset();
                if (_resets.ShouldLog(out var suppressed))
                {
                    _logger.CounterWentBack(device, channel, previous, fields.EnergyKwh ?? 0, record.Topic, record.Partition, record.Offset, suppressed);
                }
            }

            if (!stored && _full.ShouldLog(out var full))
            {
                _logger.StateFull(_state.MaxEntries, full);
            }
        }

        return new Reading
        {
            Timestamp = timestamp,
            PowerW = fields.PowerW,
            Voltage = fields.Voltage,
            Current = fields.Current,
            EnergyKwh = fields.EnergyKwh,
            Device = update.Device,
            Channel = update.Channel,
            EnergyReturnedKwh = fields.EnergyReturnedKwh,
            PowerFactor = fields.PowerFactor,
            FrequencyHz = fields.FrequencyHz,
            Phases = update.Phases,
        };
    }
}
