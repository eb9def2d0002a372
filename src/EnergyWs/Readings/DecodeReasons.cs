namespace EnergyWs.Readings;

/// <summary>
/// The reasons a record is rejected; they label <c>energyws_decode_errors_total</c>, so they are a
/// small fixed set of stable words, never built from record content.
/// </summary>
internal static class DecodeReasons
{
    public const string Empty = "empty";
    public const string TooLarge = "too_large";
    public const string TooDeep = "too_deep";
    public const string NotJson = "not_json";

    /// <summary>JSON whose text cannot be read as strings: bytes that are not UTF-8, or an escaped lone UTF-16 surrogate.</summary>
    public const string BadText = "bad_text";

    public const string UnknownFormat = "unknown_format";

    /// <summary>A json stream's record that is valid JSON but not an object.</summary>
    public const string NotObject = "not_object";

    /// <summary>A record of a topic no stream reads (it cannot happen unless assignment and catalog disagree).</summary>
    public const string UnknownTopic = "unknown_topic";
    public const string BadNumber = "bad_number";
    public const string NonFinite = "non_finite";
    public const string BadTimestamp = "bad_timestamp";
    public const string BadDevice = "bad_device";
    public const string BadEnvelope = "bad_envelope";
    public const string ImplausiblePower = "implausible_power";
    public const string ImplausibleVoltage = "implausible_voltage";

    /// <summary>A well-formed message that carries no meter values (a switch status, an event, a Gen1 metric we do not map).</summary>
    public const string NoReadings = "no_readings";

    /// <summary>The decoder itself failed on the record (a bug, logged with its stack trace at most once per interval).</summary>
    public const string DecoderError = "decoder_error";

    /// <summary>Serializing or publishing the record's readings failed (a bug, logged like <see cref="DecoderError"/>); the rest of its readings are lost.</summary>
    public const string PublishError = "publish_error";
}
