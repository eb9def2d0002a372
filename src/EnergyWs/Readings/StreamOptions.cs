namespace EnergyWs.Readings;

/// <summary>How a stream's records are read.</summary>
internal enum StreamFormat
{
    /// <summary>Decoded into the normalized reading (every built-in meter and bridge format, and <c>Readings:Mappings</c>).</summary>
    Energy,

    /// <summary>Any JSON object: passed through as it is, or projected by <see cref="StreamOptions.Fields"/>.</summary>
    Json,
}

/// <summary>
/// One entry of <c>Streams:&lt;name&gt;</c>: a topic and how its records become frames. The
/// <c>energy</c> stream always exists, on <c>Kafka:Topic</c> unless its own <see cref="Topic"/> says otherwise.
/// </summary>
internal sealed class StreamOptions
{
    /// <summary>The Kafka topic; required for every stream but <c>energy</c>. Two streams cannot share one.</summary>
    public string? Topic { get; set; }

    /// <summary>
    /// <c>energy</c> (the energy stream's, and only its) or <c>json</c> (every other stream's
    /// default). Text, not the enum, so a wrong value is a validation error naming the setting
    /// rather than a binder exception.
    /// </summary>
    public string? Format { get; set; }

    /// <summary>
    /// Output field → JSON path in the record, dot-separated, optionally <c>*scale</c> for numbers
    /// (<c>"fields.outdoor_temp"</c>, <c>"params.temperature:0.tC"</c>, <c>"fields.runtime_compressor*3600"</c>).
    /// Empty: the record's own members pass through. A path that is missing gives <c>null</c>.
    /// </summary>
    public Dictionary<string, string> Fields { get; set; } = [];

    /// <summary>JSON path of the device id (a string or a number); absent: the stream has no devices.</summary>
    public string? Device { get; set; }

    /// <summary>JSON path of the measurement time (RFC 3339, or Unix seconds or milliseconds); absent or unreadable: the Kafka record's timestamp.</summary>
    public string? Timestamp { get; set; }

    /// <summary>
    /// No record for longer than this makes the stream, or one of its devices, stale: a gauge for
    /// alerts and a status message to clients that ask. Default 1 minute for <c>energy</c> (a meter
    /// reports every few seconds), 10 minutes for the others (a Tasmota plug reports every 5);
    /// <c>00:00:00</c> turns the alarm off for the stream.
    /// </summary>
    public TimeSpan? StaleAfter { get; set; }

    /// <summary>
    /// The token scope a client needs to read the stream (from the token's <c>scope</c> or
    /// <c>scp</c>); absent: any accepted token reads it. Ignored with authentication off.
    /// </summary>
    public string? Scope { get; set; }
}
