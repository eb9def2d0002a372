using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EnergyWs.Readings;

/// <summary>
/// Where a bridge put the MQTT topic: the <c>mqtt_topic</c> header (Redpanda Connect), else the
/// Kafka key when it looks like a topic (Confluent MQTT source). A JSON envelope's own topic, found
/// later, overrides both.
/// </summary>
internal static class RecordTopic
{
    public const string HeaderName = "mqtt_topic";

    /// <summary>MQTT allows 64 KiB topics; real ones are short, and longer ones are not worth a string.</summary>
    public const int MaxLength = 512;

    public static string? KeyText(in KafkaRecord record) =>
        record.Key is { Length: > 0 and <= MaxLength } key && IsUtf8(key) ? Encoding.UTF8.GetString(key) : null;

    public static string? From(in KafkaRecord record, string? keyText)
    {
        if (record.Headers is { } headers && headers.TryGetLastBytes(HeaderName, out var bytes) &&
            bytes is { Length: > 0 and <= MaxLength } && IsUtf8(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }

        // A bare key ("shellyem-C45BBE6B4A21", a client id) is not a topic.
        return keyText is not null && keyText.Contains('/', StringComparison.Ordinal) ? keyText : null;
    }

    private static bool IsUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);
}

/// <summary>
/// JSON envelopes around an MQTT payload: EMQX 4/5 rule and webhook output
/// (<c>{topic, payload, timestamp, …}</c>, payload an object, a JSON string or base64) and Kafka
/// Connect's <c>{schema, payload}</c> wrapping.
/// </summary>
internal static class Envelope
{
    public static bool IsEnvelope(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object &&
        root.TryGetProperty("payload", out _) &&
        ((root.TryGetProperty("topic", out var topic) && topic.ValueKind == JsonValueKind.String) || root.TryGetProperty("schema", out _));

    /// <summary>Reads the envelope's topic and timestamp; returns a reason when they are malformed.</summary>
    public static string? Read(JsonElement root, ref string? topic, ref DateTimeOffset? timestamp, out JsonElement payload)
    {
        payload = root.GetProperty("payload");
        if (root.TryGetProperty("topic", out var t) && t.ValueKind == JsonValueKind.String)
        {
            var text = t.GetString();
            if (string.IsNullOrEmpty(text) || text.Length > RecordTopic.MaxLength)
            {
                return DecodeReasons.BadEnvelope;
            }

            topic = text;
        }

        // EMQX writes "timestamp" (ms); other bridges "ts". Absent is fine: the record time follows.
        if ((root.TryGetProperty("timestamp", out var ts) || root.TryGetProperty("ts", out ts)) && ts.ValueKind != JsonValueKind.Null)
        {
            if (!JsonValues.TryTimestamp(ts, out var parsed))
            {
                return DecodeReasons.BadTimestamp;
            }

            timestamp = parsed;
        }

        return null;
    }

    /// <summary>
    /// A string payload holds the MQTT message bytes: JSON or a plain number as text, or base64
    /// (EMQX with base64 payload encoding, Kafka Connect bytes). Plain text wins when it is JSON or
    /// a number, since short numbers are also valid base64.
    /// </summary>
    public static byte[]? PayloadBytes(JsonElement payload)
    {
        var text = payload.GetString();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var trimmed = text.AsSpan().Trim();
        if (trimmed.Length > 0 && (trimmed[0] is '{' or '[' || double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
        {
            return Encoding.UTF8.GetBytes(text);
        }

        var buffer = new byte[(text.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(text, buffer, out var written) ? buffer[..written] : Encoding.UTF8.GetBytes(text);
    }
}
