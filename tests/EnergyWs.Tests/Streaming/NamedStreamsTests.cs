using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;
using EnergyWs.Tests.Operations;
using EnergyWs.Tests.Readings;
using EnergyWs.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace EnergyWs.Tests.Streaming;

/// <summary>A broker with the energy topic and the heat pump's, and the service reading both.</summary>
public sealed class NamedStreamsFixture : IAsyncLifetime
{
    private TestKafka? _kafka;

    internal TestKafka Kafka => _kafka!;

    internal string EnergyTopic { get; private set; } = "";

    internal string HeatPumpTopic { get; private set; } = "";

    internal EnergyWsApp App { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _kafka = new TestKafka();
        EnergyTopic = await _kafka.CreateTopicAsync();
        HeatPumpTopic = await _kafka.CreateTopicAsync();
        App = await new EnergyWsApp(_kafka.BootstrapServers, EnergyTopic, new Dictionary<string, string?>
        {
            ["Streams:heatpump:Topic"] = HeatPumpTopic,
            ["Streams:heatpump:Device"] = "device_id",
            ["Streams:heatpump:Timestamp"] = "ts",
            // With authentication off a scope opens nothing and closes nothing: every stream is open.
            ["Streams:heatpump:Scope"] = "heatpump:read",
        }, services => services.AddFakeLogging()).StartAsync(ct);
        var state = App.Get<ConsumerState>();
        await Eventually.TrueAsync(() => state.Partitions.Any(p => p.Key.Topic == HeatPumpTopic) && state.Partitions.Any(p => p.Key.Topic == EnergyTopic), "both topics are assigned", ct);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        _kafka?.Dispose();
    }
}

/// <summary>Clients choose streams with ?stream=: plain /ws stays the energy stream in the seed's format.</summary>
/// <remarks>Alone, as every test that reads /metrics (<see cref="ProcessWideMetrics"/>).</remarks>
[Collection(ProcessWideMetrics.Name)]
public sealed class NamedStreamsTests(NamedStreamsFixture fixture) : IClassFixture<NamedStreamsFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<WsClient> ConnectAsync(string query = "") => WsClient.ConnectAsync(fixture.App.WebSocketUri("/ws" + query), cancellationToken: Ct);

    private static string Named(string stream, string seed) => $"{{\"stream\":\"{stream}\"," + seed[1..];

    [Fact]
    public async Task Streams_EachClientGetsWhatItNamed_PlainWsOnlyEnergyInTheSeedFormat()
    {
        await using var plain = await ConnectAsync();
        await using var heatpump = await ConnectAsync("?stream=heatpump");
        await using var both = await ConnectAsync("?stream=energy,heatpump");
        using var producer = fixture.Kafka.CreateProducer();
        var device = $"thermiq-{Guid.NewGuid():N}";
        var record = HomelabStreams.Example("heatpump", r => r["device_id"] = device);
        var reading = SeedReadings.Json(1000 + Random.Shared.Next(1000));

        await SeedReadings.ProduceAsync(producer, fixture.HeatPumpTopic, [record]);
        await SeedReadings.ProduceAsync(producer, fixture.EnergyTopic, [reading]);

        Assert.Equal(reading, await plain.ReceiveAsync());
        // Other tests' heat pumps may come first, as the last value of each device on connect.
        var frame = await PastLastValuesAsync(heatpump, device);
        using (var json = JsonDocument.Parse(frame))
        {
            Assert.Equal("heatpump", json.RootElement.GetProperty("stream").GetString());
            Assert.Equal(device, json.RootElement.GetProperty("device").GetString());
            Assert.Equal("2026-11-30T18:04:07.501Z", json.RootElement.GetProperty("timestamp").GetString());
            Assert.Equal(-3, json.RootElement.GetProperty("fields").GetProperty("outdoor_temp").GetInt32());
        }

        // Two topics: the consumer may read either record first.
        var expected = new HashSet<string> { frame, Named("energy", reading) };
        var got = new HashSet<string>();
        while (got.Count < 2)
        {
            var message = await both.ReceiveAsync();
            if (expected.Contains(message))
            {
                got.Add(message);
            }
            else
            {
                Assert.StartsWith("{\"stream\":\"heatpump\"", message, StringComparison.Ordinal);
            }
        }
        // Neither the energy client nor the heat pump's got the other's frame.
        Assert.False(plain.TryReceive(out _));
        Assert.False(heatpump.TryReceive(out _));
    }

    [Fact]
    public async Task Subscribe_Streams_AddsAndRemovesStreams_FramesSayTheirStreamFromThen()
    {
        await using var client = await ConnectAsync();
        await using var energyWatcher = await ConnectAsync();
        using var producer = fixture.Kafka.CreateProducer();
        var device = $"thermiq-{Guid.NewGuid():N}";

        await client.SendAsync("""{"type":"subscribe","streams":["heatpump"]}""");
        Assert.Equal("""{"type":"subscribed","streams":["energy","heatpump"],"devices":null,"channels":null}""", await ReplyAsync(client));
        await SeedReadings.ProduceAsync(producer, fixture.HeatPumpTopic, [HomelabStreams.Example("heatpump", r => r["device_id"] = device)]);
        Assert.StartsWith("{\"stream\":\"heatpump\"", await PastLastValuesAsync(client, device), StringComparison.Ordinal);

        await client.SendAsync("""{"type":"unsubscribe","streams":["energy"]}""");
        Assert.Equal("""{"type":"subscribed","streams":["heatpump"],"devices":null,"channels":null}""", await ReplyAsync(client));
        // An energy reading, broadcast (its watcher has it) before the heat pump's next record:
        // the client's next frame is the heat pump's.
        var reading = SeedReadings.Json(3000 + Random.Shared.Next(1000));
        await SeedReadings.ProduceAsync(producer, fixture.EnergyTopic, [reading]);
        while (await energyWatcher.ReceiveAsync() != reading)
        {
        }

        await SeedReadings.ProduceAsync(producer, fixture.HeatPumpTopic, [HomelabStreams.Example("heatpump", r => (r["device_id"], r["reason"]) = (device, "marker"))]);
        Assert.Contains("\"reason\":\"marker\"", await client.ReceiveAsync(), StringComparison.Ordinal);

        await client.SendAsync("""{"type":"subscribe","streams":["boiler"]}""");
        Assert.Contains("\"code\":\"unknown_stream\"", await ReplyAsync(client), StringComparison.Ordinal);
        await client.SendAsync("""{"type":"subscribe","streams":null}""");
        Assert.Contains("\"code\":\"invalid_message\"", await ReplyAsync(client), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnergyCompat_SubscribeStreams_DataIsTheRecordsOwnObject()
    {
        await using var compat = await WsClient.ConnectAsync(fixture.App.WebSocketUri("/ws/energy"), cancellationToken: Ct);
        using var producer = fixture.Kafka.CreateProducer();
        var device = $"thermiq-{Guid.NewGuid():N}";

        await compat.SendAsync("""{"type":"subscribe","streams":["heatpump"]}""");
        Assert.Equal("""{"type":"subscribed","streams":["heatpump"]}""", await ReplyAsync(compat));
        await compat.SendAsync("""{"type":"subscribe","streams":["boiler"]}""");
        Assert.Contains("\"code\":\"unknown_stream\"", await ReplyAsync(compat), StringComparison.Ordinal);

        // The deployment's SaveEye record: the original's React gauge reads
        // data.activeActualConsumption.total || data.fields.active_power_total.
        var serial = $"SE{Guid.NewGuid():N}";
        var energy = HomelabStreams.Example("energy", r => (r["tags"]!["device_serial"], r["saveeyeDeviceSerialNumber"]) = (serial, serial));
        await SeedReadings.ProduceAsync(producer, fixture.EnergyTopic, [energy]);
        var heatpump = HomelabStreams.Example("heatpump", r => r["device_id"] = device);
        await SeedReadings.ProduceAsync(producer, fixture.HeatPumpTopic, [heatpump]);

        var got = new Dictionary<string, JsonElement>();
        while (got.Count < 2)
        {
            using var envelope = JsonDocument.Parse(await compat.ReceiveAsync());
            var root = envelope.RootElement;
            Assert.Equal("data", root.GetProperty("type").GetString());
            var data = root.GetProperty("data");
            var stream = root.GetProperty("stream").GetString()!;
            if (stream == "energy" && data.TryGetProperty("saveeyeDeviceSerialNumber", out var number) && number.GetString() == serial ||
                stream == "heatpump" && data.GetProperty("device_id").GetString() == device)
            {
                got[stream] = data.Clone();
            }
        }

        Assert.Equal(788, got["energy"].GetProperty("activeActualConsumption").GetProperty("total").GetInt32());
        Assert.Equal(788, got["energy"].GetProperty("fields").GetProperty("active_power_total").GetInt32());
        foreach (var (stream, sent) in new[] { ("energy", energy), ("heatpump", heatpump) })
        {
            using var json = JsonDocument.Parse(sent);
            Assert.Equal(json.RootElement.GetRawText(), got[stream].GetRawText());
        }
    }

    [Fact]
    public async Task AuthOff_StreamWithScope_IsOpenToEveryClientAndThatIsWarnedAtStart()
    {
        await using var client = await ConnectAsync("?stream=heatpump");

        var warning = Assert.Single(fixture.App.Get<FakeLogCollector>().GetSnapshot(), r => r.Id.Id == 4020);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("Authentication is off: streams heatpump have a Scope, but every client reads them", warning.Message);
    }

    /// <summary>The next answer to a control message, past the readings (last values on connect, live ones) before it.</summary>
    private static async Task<string> ReplyAsync(WsClient client)
    {
        while (true)
        {
            var message = await client.ReceiveAsync();
            if (message.StartsWith("{\"type\":", StringComparison.Ordinal) && !message.StartsWith("{\"type\":\"data\"", StringComparison.Ordinal))
            {
                return message;
            }
        }
    }

    /// <summary>The first frame of <paramref name="device"/>, past the last values of other devices a connection starts with.</summary>
    private static async Task<string> PastLastValuesAsync(WsClient client, string device)
    {
        while (true)
        {
            var message = await client.ReceiveAsync();
            if (message.Contains($"\"device\":\"{device}\"", StringComparison.Ordinal))
            {
                return message;
            }

            Assert.DoesNotContain("\"power_w\"", message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EnergyStream_SaveEyeBridgeRecordWithoutMapping_ClientsGetTheNormalizedReading_BadOneCounted()
    {
        using var producer = fixture.Kafka.CreateProducer();
        using var totals = new MetricTotals(fixture.App.Get<IMeterFactory>(), "energyws_decode_errors_total");
        var device = $"SE{Guid.NewGuid():N}";
        await using var plain = await ConnectAsync($"?device={device}");
        await using var named = await ConnectAsync($"?stream=energy&device={device}");

        await SeedReadings.ProduceAsync(producer, fixture.EnergyTopic,
        [
            HomelabStreams.Example("energy", r => (r["tags"]!["device_serial"], r["fields"]!["voltage_l1"]) = (device, "NaN")),
            HomelabStreams.Example("energy", r => r["tags"]!["device_serial"] = device),
        ]);

        var expected =
            "{\"timestamp\":\"2026-11-30T18:04:05.123Z\",\"power_w\":788,\"voltage\":238,\"current\":3.32,\"energy_kwh\":100012.345," +
            $"\"device\":\"{device}\",\"energy_returned_kwh\":0.081,\"power_factor\":0.97," +
            "\"power_l1_w\":512,\"power_l2_w\":180,\"power_l3_w\":96,\"voltage_l1\":238,\"voltage_l2\":237,\"voltage_l3\":239," +
            "\"current_l1\":2.15,\"current_l2\":0.76,\"current_l3\":0.41}";
        Assert.Equal(expected, await plain.ReceiveAsync());
        Assert.Equal(Named("energy", expected), await named.ReceiveAsync());
        await Eventually.TrueAsync(() => totals.Total("energyws_decode_errors_total", "bad_number") == 1, "the record with a NaN string is counted as skipped", Ct);
        // The skipped record emitted nothing before the good one.
        Assert.False(plain.TryReceive(out _));
    }

    [Fact]
    public async Task Streams_LastValueOnConnect_IsPerStreamAndDevice()
    {
        using var producer = fixture.Kafka.CreateProducer();
        var device = $"thermiq-{Guid.NewGuid():N}";
        await SeedReadings.ProduceAsync(producer, fixture.HeatPumpTopic, [HomelabStreams.Example("heatpump", r => r["device_id"] = device)]);
        await using (var first = await ConnectAsync($"?stream=heatpump&device={device}"))
        {
            await first.ReceiveAsync();
        }

        await using var later = await ConnectAsync($"?stream=heatpump&device={device}");

        using var json = JsonDocument.Parse(await later.ReceiveAsync());
        Assert.Equal(device, json.RootElement.GetProperty("device").GetString());
    }

    [Fact]
    public async Task Api_StreamParameter_ServesThatStreamsHistory_DefaultIsEnergyAlone()
    {
        using var producer = fixture.Kafka.CreateProducer();
        var device = $"thermiq-{Guid.NewGuid():N}";
        await using var watcher = await ConnectAsync($"?stream=heatpump&device={device}");
        // Measured now, so inside the history's window (the fixture's own time is long past it).
        var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        await SeedReadings.ProduceAsync(producer, fixture.HeatPumpTopic, [HomelabStreams.Example("heatpump", r => (r["device_id"], r["ts"]) = (device, now))]);
        var frame = await watcher.ReceiveAsync();
        using var http = new HttpClient { BaseAddress = fixture.App.BaseAddress };

        Assert.Equal($"[{frame}]", await http.GetStringAsync(new Uri($"/api/readings?stream=heatpump&device={device}", UriKind.Relative), Ct));
        Assert.Equal($"[{frame}]", await http.GetStringAsync(new Uri($"/api/readings/latest?stream=heatpump&device={device}", UriKind.Relative), Ct));
        Assert.Equal("[]", await http.GetStringAsync(new Uri($"/api/readings?device={device}", UriKind.Relative), Ct));
        Assert.DoesNotContain("\"heatpump\"", await http.GetStringAsync(new Uri("/api/readings", UriKind.Relative), Ct), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/ws?stream=plugs")]
    [InlineData("/ws?stream=energy&stream=Heatpump")]
    [InlineData("/api/readings?stream=plugs")]
    public async Task UnknownStream_Gets400BeforeTheUpgradeNamingIt(string pathAndQuery)
    {
        using var http = new HttpClient { BaseAddress = fixture.App.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(pathAndQuery, UriKind.Relative));
        // A WebSocket handshake as a browser sends it, so /ws answers it as one.
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new System.Net.Http.Headers.ProductHeaderValue("websocket"));
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));

        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var detail = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("Unknown stream", detail, StringComparison.Ordinal);
        Assert.Contains("energy, heatpump", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_RecordsReadingsAndDecodeErrors_CarryTheStream()
    {
        using var producer = fixture.Kafka.CreateProducer();
        using var management = new HttpClient { BaseAddress = fixture.App.ManagementAddress };
        var before = Scrape.Value(await Scrape.MetricsAsync(management, Ct), "energyws_decode_errors_total", ("reason", "not_object"), ("stream", "heatpump")) ?? 0;

        await SeedReadings.ProduceAsync(producer, fixture.HeatPumpTopic, ["21.5", HomelabStreams.Example("heatpump")]);

        var text = await Scrape.UntilMetricsAsync(
            management,
            t => Scrape.Value(t, "energyws_decode_errors_total", ("reason", "not_object"), ("stream", "heatpump")) > before &&
                Scrape.Value(t, "energyws_readings_total", ("stream", "heatpump")) >= 1,
            "the heat pump's records are counted under its stream",
            Ct);
        Assert.True(Scrape.Value(text, "energyws_kafka_records_total", ("result", "ok"), ("stream", "heatpump")) >= 1);
        Assert.Null(Scrape.Value(text, "energyws_decode_errors_total", ("reason", "not_object"), ("stream", "energy")));
    }
}
