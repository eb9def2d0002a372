using EnergyWs.Readings;

namespace EnergyWs.Tests.Readings;

/// <summary>Streams:&lt;name&gt; settings: what a valid catalog holds and the one line each mistake gets.</summary>
public sealed class StreamCatalogTests
{
    private static (List<StreamDefinition> Streams, List<string> Errors) Build(params (string Name, StreamOptions Options)[] streams)
    {
        var options = new StreamsOptions { DefaultEnergyTopic = "homelab.energy" };
        foreach (var (name, stream) in streams)
        {
            options.Streams[name] = stream;
        }

        var errors = new List<string>();
        return (StreamCatalog.Build(options, errors), errors);
    }

    [Fact]
    public void Catalog_NothingConfigured_IsTheEnergyStreamOnKafkaTopic()
    {
        var (streams, errors) = Build();

        Assert.Empty(errors);
        var energy = Assert.Single(streams);
        Assert.Equal(("energy", 0, "homelab.energy", StreamFormat.Energy, 1UL), (energy.Name, energy.Index, energy.Topic, energy.Format, energy.Bit));
    }

    [Fact]
    public void Catalog_OtherStreams_FollowEnergyInNameOrderAsJson()
    {
        var (streams, errors) = Build(
            ("temperature", new StreamOptions { Topic = "homelab-temperature-indoor" }),
            ("heatpump", new StreamOptions { Topic = "homelab-heatpump-telemetry", Fields = { ["outdoor"] = "fields.outdoor_temp", ["compressor_s"] = "fields.runtime_compressor*3600" }, Device = "device_id", Timestamp = "ts" }));

        Assert.Empty(errors);
        Assert.Equal(["energy", "heatpump", "temperature"], streams.Select(s => s.Name));
        Assert.Equal([1UL, 2UL, 4UL], streams.Select(s => s.Bit));
        Assert.Equal(StreamFormat.Json, streams[1].Format);
        Assert.Equal(["compressor_s", "outdoor"], streams[1].Fields.Select(f => f.Name));
        Assert.Equal(3600, streams[1].Fields[0].Path.Scale);
    }

    [Theory]
    [InlineData("Heatpump", "t", null, null, "Streams:Heatpump: a stream name is 1-32 of lower-case letters")]
    [InlineData("heatpump", null, null, null, "Streams:heatpump:Topic is required.")]
    [InlineData("heatpump", "bad topic", null, null, "Streams:heatpump:Topic must be 1-249 characters")]
    [InlineData("heatpump", "homelab.energy", null, null, "Streams:heatpump:Topic 'homelab.energy' is the topic of stream 'energy' too")]
    [InlineData("heatpump", "t", "xml", null, "Streams:heatpump:Format must be energy or json.")]
    [InlineData("heatpump", "t", "energy", null, "Streams:heatpump:Format must be json")]
    [InlineData("energy", null, "json", null, "Streams:energy:Format must be energy")]
    [InlineData("heatpump", "t", null, "timestamp", "Streams:heatpump:Fields:timestamp: 'timestamp' is set by the service")]
    [InlineData("heatpump", "t", null, "stream", "Streams:heatpump:Fields:stream: 'stream' is set by the service")]
    [InlineData("energy", null, null, "x", "Streams:energy:Fields: the energy stream's fields are the reading's")]
    public void Catalog_BadSetting_IsOneLineNamingIt(string name, string? topic, string? format, string? field, string expected)
    {
        var stream = new StreamOptions { Topic = topic, Format = format };
        if (field is not null)
        {
            stream.Fields[field] = "fields.x";
        }

        var (_, errors) = Build((name, stream));

        Assert.StartsWith(expected, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Catalog_BadPaths_AreNamedEachOnItsOwnLine()
    {
        var (_, errors) = Build(("heatpump", new StreamOptions { Topic = "t", Fields = { ["a"] = "fields..x", ["b"] = "fields.x*0" }, Device = "tags.device*2" }));

        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Streams:heatpump:Fields:a: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Streams:heatpump:Fields:b: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Streams:heatpump:Device: ", StringComparison.Ordinal));
    }

    [Fact]
    public void Catalog_StaleAfter_DefaultsPerKind_ZeroTurnsTheAlarmOff_OutOfRangeIsNamed()
    {
        var (streams, errors) = Build(
            ("heatpump", new StreamOptions { Topic = "hp" }),
            ("plugs", new StreamOptions { Topic = "plugs", StaleAfter = TimeSpan.Zero }),
            ("temperature", new StreamOptions { Topic = "t", StaleAfter = TimeSpan.FromMinutes(45) }));

        Assert.Empty(errors);
        Assert.Equal(
            [("energy", TimeSpan.FromMinutes(1)), ("heatpump", TimeSpan.FromMinutes(10)), ("plugs", TimeSpan.Zero), ("temperature", TimeSpan.FromMinutes(45))],
            streams.Select(s => (s.Name, s.StaleAfter)));

        foreach (var (bad, expected) in new[]
        {
            (TimeSpan.FromSeconds(2), "Streams:heatpump:StaleAfter must be 00:00:00 (no alarm) or at least 00:00:05."),
            (TimeSpan.FromDays(2), "Streams:heatpump:StaleAfter must be between 00:00:00 (no alarm) and 1.00:00:00."),
            (TimeSpan.FromSeconds(-1), "Streams:heatpump:StaleAfter must be between 00:00:00 (no alarm) and 1.00:00:00."),
        })
        {
            Assert.Equal([expected], Build(("heatpump", new StreamOptions { Topic = "hp", StaleAfter = bad })).Errors);
        }
    }

    [Theory]
    [InlineData("heatpump:read", true)]
    [InlineData("https://energy.example.com/heatpump.read", true)]
    [InlineData("heat pump", false)]
    [InlineData("heat\"pump", false)]
    [InlineData("heatpump\n", false)]
    [InlineData("", false)]
    public void Catalog_Scope_IsOneScopeToken(string scope, bool valid)
    {
        var (streams, errors) = Build(("heatpump", new StreamOptions { Topic = "hp", Scope = scope }));

        if (valid)
        {
            Assert.Empty(errors);
            Assert.Equal(scope, streams.Single(s => s.Name == "heatpump").Scope);
        }
        else
        {
            Assert.Equal(["Streams:heatpump:Scope must be one scope token: 1-128 printable ASCII characters without spaces, '\"' or '\\' (RFC 6749 §3.3)."], errors);
        }
    }

    [Fact]
    public void Catalog_MoreThan64Streams_IsRefused()
    {
        var (_, errors) = Build([.. Enumerable.Range(0, 64).Select(i => ($"s{i}", new StreamOptions { Topic = $"t{i}" }))]);

        Assert.Contains("Streams: at most 64 streams, energy included.", errors);
        Assert.Empty(Build([.. Enumerable.Range(0, 63).Select(i => ($"s{i}", new StreamOptions { Topic = $"t{i}" }))]).Errors);
    }
}
