using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using EnergyWs.Freshness;
using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Operations;

/// <summary>
/// Data that stops is visible: the real service on a fake clock, fed through the embedded broker,
/// scraped on its management port. Time moves only when a test advances it.
/// </summary>
[Collection(ProcessWideMetrics.Name)]
public sealed partial class FreshnessTests
{
    private const string LastRecord = FreshnessMetrics.LastRecordName;

    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MeterStops_GaugeKeepsItsLastArrival_WarnsOnceAndInformsWhenBack_ReadinessStaysHealthy()
    {
        var time = new FakeTimeProvider(T0);
        await using var stack = await StartAsync(time);
        using var management = new HttpClient { BaseAddress = stack.App.ManagementAddress };
        using var publicHttp = new HttpClient { BaseAddress = stack.App.BaseAddress };
        var logs = stack.App.Get<FakeLogCollector>();
        await Scrape.UntilStatusAsync(management, "/health/ready", HttpStatusCode.OK, Eventually.DefaultTimeout, Ct);

        // Reading timestamps an hour behind: the gauge must show arrival by the service's clock.
        await stack.ProduceAsync([Json("em-a", T0.AddHours(-1)), Json("em-b", T0.AddHours(-1))]);
        var text = await Scrape.UntilMetricsAsync(management, t => Device(t, "em-b") is not null, "both devices have a series", Ct);
        Assert.Equal(Seconds(T0), Stream(text));
        Assert.Equal(Seconds(T0), Device(text, "em-a"));
        Assert.Equal(Seconds(T0), Device(text, "em-b"));
        Assert.Equal(60, Scrape.Exact(text, FreshnessMetrics.StaleAfterName, ("stream", "energy")));

        // 30 s on, em-a reports again; 61 s after em-b's last record, em-b alone is stale.
        time.Advance(TimeSpan.FromSeconds(30));
        await stack.ProduceAsync([Json("em-a", T0)]);
        await Scrape.UntilMetricsAsync(management, t => Device(t, "em-a") == Seconds(T0.AddSeconds(30)), "em-a's second arrival", Ct);
        time.Advance(TimeSpan.FromSeconds(31));
        var emB = await LoggedAsync(logs, 7003, "em-b");
        Assert.Equal(LogLevel.Warning, emB.Level);
        Assert.Equal("Device em-b of stream energy is stale: no record for 00:01:01, the last arrived at 2026-03-01 12:00:00Z (stale after 00:01:00)", emB.Message);
        await AssertReadyAsync(management, publicHttp);

        // 61 s after em-a's: the whole stream is stale, one line for it and none for em-a.
        time.Advance(TimeSpan.FromSeconds(30));
        var stream = await LoggedAsync(logs, 7001, device: null);
        Assert.Equal(LogLevel.Warning, stream.Level);
        Assert.Equal("energy", stream.GetStructuredStateValue("Stream"));
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Id.Id == 7003 && r.GetStructuredStateValue("Device") == "em-a");
        await AssertReadyAsync(management, publicHttp);
        text = await Scrape.MetricsAsync(management, Ct);
        Assert.Equal(Seconds(T0.AddSeconds(30)), Stream(text));
        Assert.Equal(Seconds(T0), Device(text, "em-b"));
        var state = stack.App.Get<FreshnessTracker>().Snapshot().Single();
        Assert.True(state.Stale);
        Assert.All(state.Devices, d => Assert.True(d.Stale));

        // em-b comes back: the stream and em-b are live again, and em-a, still silent, is news now.
        await stack.ProduceAsync([Json("em-b", T0)]);
        await Scrape.UntilMetricsAsync(management, t => Device(t, "em-b") == Seconds(T0.AddSeconds(91)), "em-b's new arrival", Ct);
        time.Advance(FreshnessMonitor.CheckInterval);
        var live = await LoggedAsync(logs, 7002, device: null);
        Assert.Equal(LogLevel.Information, live.Level);
        Assert.Equal("Stream energy is live again after 00:01:01 without a record", live.Message);
        Assert.Equal(LogLevel.Information, (await LoggedAsync(logs, 7004, "em-b")).Level);
        await LoggedAsync(logs, 7003, "em-a");
        Assert.Equal(1, logs.GetSnapshot().Count(r => r.Id.Id == 7001));
        await AssertReadyAsync(management, publicHttp);
    }

    [Fact]
    public async Task Restart_HistoryRebuild_SetsTheGaugeFromWhenRecordsWereProduced_SoASilentStreamIsStaleAtOnce()
    {
        using var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var produced = T0.AddHours(-2);
        using (var producer = kafka.CreateProducer())
        {
            // What a meter sent two hours before this (re)start, and nothing since.
            foreach (var device in new[] { "em-a", "em-b" })
            {
                producer.Produce(new TopicPartition(topic, 0), new Message<byte[]?, byte[]?>
                {
                    Value = Encoding.UTF8.GetBytes(Json(device, produced)),
                    Timestamp = new Timestamp(produced),
                });
            }

            await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(30)), Ct);
        }

        var time = new FakeTimeProvider(T0);
        await using var app = await new EnergyWsApp(kafka.BootstrapServers, topic, Settings(), Services(time)).StartAsync(Ct);
        using var management = new HttpClient { BaseAddress = app.ManagementAddress };
        using var publicHttp = new HttpClient { BaseAddress = app.BaseAddress };

        var text = await Scrape.UntilMetricsAsync(management, t => Device(t, "em-b") is not null, "the rebuilt records have series", Ct);
        // Checks begin once the rebuild is complete, which readiness waits for too.
        await Scrape.UntilStatusAsync(management, "/health/ready", HttpStatusCode.OK, Eventually.DefaultTimeout, Ct);
        Assert.Equal(Seconds(produced), Stream(text));
        Assert.Equal(Seconds(produced), Device(text, "em-a"));
        Assert.Equal(Seconds(produced), Device(text, "em-b"));

        // The first check after the rebuild: stale, without a single live record.
        time.Advance(FreshnessMonitor.CheckInterval);
        var stale = await LoggedAsync(app.Get<FakeLogCollector>(), 7001, device: null);
        Assert.Equal("Stream energy is stale: no record for 02:00:01, the last arrived at 2026-03-01 10:00:00Z (stale after 00:01:00)", stale.Message);
        await AssertReadyAsync(management, publicHttp);
    }

    [Fact]
    public async Task ShippedRules_NameOnlyMetricsTheServiceExports()
    {
        var time = new FakeTimeProvider(T0);
        await using var stack = await StartAsync(time);
        using var management = new HttpClient { BaseAddress = stack.App.ManagementAddress };
        await stack.ProduceAsync([Json("em-a", T0), SeedReadings.Json(1)]);
        var text = await Scrape.UntilMetricsAsync(
            management,
            t => Device(t, "em-a") is not null && t.Contains("energyws_kafka_consumer_lag{", StringComparison.Ordinal),
            "the freshness and lag series exist",
            Ct);

        // A renamed metric, or a rule naming one that does not exist, fails here.
        var rules = await File.ReadAllTextAsync(Promtool.RulesFile, Ct);
        var named = MetricName().Matches(rules).Select(m => m.Value).ToHashSet();
        Assert.Equal(["energyws_kafka_consumer_lag", FreshnessMetrics.LastRecordName, FreshnessMetrics.StaleAfterName], named.Order(StringComparer.Ordinal));
        foreach (var name in named)
        {
            Assert.Contains($"# TYPE {name} gauge\n", text, StringComparison.Ordinal);
        }

        // The labels the rules match on: the stream's series has no device label, a device's has one.
        Assert.NotNull(Stream(text));
        Assert.NotNull(Device(text, "em-a"));

        if (Promtool.IsInstalled)
        {
            // Exposition promtool parses; lint findings about the runtime's own metrics are not ours.
            var (exitCode, output) = await Promtool.RunAsync(["check", "metrics"], text, Ct);
            Assert.True(exitCode is 0 or 3, $"promtool check metrics exited {exitCode}:\n{output}");
            Assert.DoesNotContain("energyws_stream", output, StringComparison.Ordinal);
        }
    }

    private static Task<TestStack> StartAsync(FakeTimeProvider time) => TestStack.StartAsync(Settings(), Services(time), Ct);

    private static Dictionary<string, string?> Settings() => new()
    {
        // The broker counts as answering for 3 probe intervals: far beyond the minutes the fake
        // clock moves here, which no probe follows (the probe timer runs on the fake clock too).
        ["Kafka:ProbeInterval"] = "00:10:00",
        ["Logging:LogLevel:EnergyWs"] = "Information",
    };

    private static Action<IServiceCollection> Services(FakeTimeProvider time) => services =>
    {
        services.AddSingleton<TimeProvider>(time);
        services.AddLogging(logging => logging.AddFakeLogging());
    };

    private static string Json(string device, DateTimeOffset at) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"timestamp\":\"{at:yyyy-MM-dd'T'HH:mm:ss'Z'}\",\"power_w\":1200.5,\"device\":\"{device}\"}}");

    private static double Seconds(DateTimeOffset at) => at.ToUnixTimeMilliseconds() / 1000.0;

    private static double? Stream(string text) => Scrape.Exact(text, LastRecord, ("stream", "energy"));

    private static double? Device(string text, string device) => Scrape.Exact(text, LastRecord, ("stream", "energy"), ("device", device));

    private static async Task<FakeLogRecord> LoggedAsync(FakeLogCollector logs, int eventId, string? device)
    {
        FakeLogRecord? found = null;
        await Eventually.TrueAsync(
            () => (found = logs.GetSnapshot().FirstOrDefault(r => r.Id.Id == eventId && r.GetStructuredStateValue("Device") == device)) is not null,
            $"event {eventId} is logged{(device is null ? "" : $" for {device}")}",
            Ct);
        return found!;
    }

    /// <summary>A silent meter is no reason to take the pod out of service or restart it.</summary>
    private static async Task AssertReadyAsync(HttpClient management, HttpClient publicHttp)
    {
        using var ready = await management.GetAsync(new Uri("/health/ready", UriKind.Relative), Ct);
        var body = await ready.Content.ReadAsStringAsync(Ct);
        Assert.True(ready.StatusCode == HttpStatusCode.OK, body);
        Assert.StartsWith("""{"status":"Healthy","checks":{""", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhealthy", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Degraded", body, StringComparison.Ordinal);
        Assert.Equal("""{"status":"Healthy"}""", await publicHttp.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct));
        using var live = await management.GetAsync(new Uri("/health", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [GeneratedRegex(@"\benergyws_[a-z_]+")]
    private static partial Regex MetricName();
}
