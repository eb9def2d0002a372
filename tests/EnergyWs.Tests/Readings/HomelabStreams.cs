using System.Text.Json;
using System.Text.Json.Nodes;

namespace EnergyWs.Tests.Readings;

/// <summary>The record shapes of the four topics a real home deployment's bridge publishes (Fixtures/homelab-streams.json, with its sources).</summary>
internal static class HomelabStreams
{
    private static readonly Lazy<JsonObject> Streams = new(() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Readings", "Fixtures", "homelab-streams.json")))!["streams"]!.AsObject());

    /// <summary>The example record of a stream (energy, heatpump, plugs, temperature), as its topic carries it.</summary>
    public static string Example(string stream) => Streams.Value[stream]!["example"]!.ToJsonString();

    /// <summary>The example with changes, for records of other devices or times.</summary>
    public static string Example(string stream, Action<JsonObject> change)
    {
        var example = JsonNode.Parse(Example(stream))!.AsObject();
        change(example);
        return example.ToJsonString();
    }

    public static string Topic(string stream) => Streams.Value[stream]!["topic"]!.GetValue<string>();

    public static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
