namespace EnergyWs.Readings;

/// <summary>
/// One entry of <c>Readings:Mappings</c>: which records it applies to and where each reading field
/// is in their JSON. All given conditions must hold; with none given, every path in
/// <see cref="Fields"/> must be present (the mapping matches by shape).
/// </summary>
internal sealed class MappingOptions
{
    /// <summary>Regex over the MQTT topic (header <c>mqtt_topic</c>, a JSON envelope's topic, or the key).</summary>
    public string? Topic { get; set; }

    /// <summary>Regex over the Kafka key as UTF-8 text.</summary>
    public string? Key { get; set; }

    /// <summary>Kafka header name → regex over its UTF-8 value.</summary>
    public Dictionary<string, string> Headers { get; set; } = [];

    /// <summary>JSON paths that must be present (the record's shape).</summary>
    public List<string> Require { get; set; } = [];

    /// <summary>
    /// Reading field → JSON path, dot-separated (array elements by index: <c>phases.0.voltage</c>),
    /// optionally followed by <c>*scale</c> to convert units: <c>"fields.active_energy_total*0.001"</c>.
    /// </summary>
    public Dictionary<string, string> Fields { get; set; } = [];
}
