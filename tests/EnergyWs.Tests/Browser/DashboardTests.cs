using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using EnergyWs.Streaming;
using EnergyWs.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EnergyWs.Tests.Browser;

/// <summary>
/// The dashboard at / and energy-ws-client.js in headless Chromium, against the real service fed
/// by a simulated meter producing to the test broker.
/// </summary>
[Trait("Category", "Slow")]
public sealed class DashboardTests(Chromium chromium) : IClassFixture<Chromium>
{
    private const string PageTimestamps = "() => [...window.energyWs.sources.values()].flatMap(s => s.xs.map(x => Math.round(x * 1000)))";

    private static readonly PageWaitForFunctionOptions Wait = new() { Timeout = 20_000, PollingInterval = 50 };

    [Fact]
    public async Task Dashboard_LiveMeter_ShowsChangingPowerAndGrowingChart()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var ct = TestContext.Current.CancellationToken;
        await using var live = await LiveService.StartAsync(withHooks: false, ct);
        var (meter, app) = (live.Meter, live.App);
        var (context, page, console) = await chromium.NewPageAsync();
        await using var _ = context;

        await page.GotoAsync(app.BaseAddress.ToString());

        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'open'", null, Wait);
        Assert.Equal("live", await page.TextContentAsync("#status-text"));
        await page.WaitForFunctionAsync("() => document.getElementById('power').dataset.value !== ''", null, Wait);
        var first = await page.GetAttributeAsync("#power", "data-value");
        await page.WaitForFunctionAsync($"() => document.getElementById('power').dataset.value !== '{first}'", null, Wait);

        var points = int.Parse((await page.GetAttributeAsync("#chart", "data-points"))!, CultureInfo.InvariantCulture);
        await page.WaitForFunctionAsync($"() => Number(document.getElementById('chart').dataset.points) > {points + 3}", null, Wait);
        Assert.Equal(1, await page.Locator("#chart canvas").CountAsync());
        Assert.NotEqual("–", await page.TextContentAsync("#voltage"));
        Assert.NotEqual("–", await page.TextContentAsync("#current"));
        await page.WaitForFunctionAsync("() => document.getElementById('today').textContent !== '–'", null, Wait);
        Assert.True(await page.IsHiddenAsync("#picker"), "one meter: no picker");
        Assert.DoesNotContain(console, line => line.StartsWith("pageerror", StringComparison.Ordinal));

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Chromium.ScreenshotPath("dashboard.png"), FullPage = true });
        await ScreenshotAsync(app, new BrowserNewContextOptions { ColorScheme = ColorScheme.Dark, ViewportSize = new ViewportSize { Width = 1280, Height = 900 } }, "dashboard-dark.png");
        await ScreenshotAsync(app, new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 390, Height = 844 }, DeviceScaleFactor = 2, IsMobile = true, HasTouch = true }, "dashboard-phone.png");
        Assert.True(new FileInfo(Chromium.ScreenshotPath("dashboard.png")).Length > 10_000, "the screenshot has content");
    }

    [Fact]
    public async Task Dashboard_ServerClosesConnection_ShowsReconnectingThenRecoversWithoutGap()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var ct = TestContext.Current.CancellationToken;
        await using var live = await LiveService.StartAsync(withHooks: false, ct);
        var (meter, app) = (live.Meter, live.App);
        var resumes = await SupportsSinceAsync(app);
        var (context, page, _) = await chromium.NewPageAsync();
        await using var __ = context;

        await page.GotoAsync(app.BaseAddress.ToString());
        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'open'", null, Wait);
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart').dataset.points) >= 5", null, Wait);

        // Readings go on being produced while the page is away: a gap-free resume must deliver them.
        var closedAt = DateTimeOffset.UtcNow;
        live.CloseAll(CloseReason.ShuttingDown);

        await page.WaitForFunctionAsync("() => window.energyWs.states.lastIndexOf('reconnecting') > window.energyWs.states.indexOf('open')", null, Wait);
        await page.WaitForFunctionAsync("() => window.energyWs.states.at(-1) === 'open'", null, Wait);
        Assert.Equal("live", await page.TextContentAsync("#status-text"));
        var after = closedAt.AddSeconds(2).ToUnixTimeMilliseconds();
        await page.WaitForFunctionAsync($"() => ({PageTimestamps})().some(t => t > {after})", null, Wait);

        var seen = await page.EvaluateAsync<long[]>(PageTimestamps);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First < p.Second), "each reading once, in order");
        if (resumes)
        {
            // since= on the server: exactly what the meter produced between the first and last reading seen.
            var produced = meter.Produced.Where(t => t >= seen[0] && t <= seen[^1]).ToArray();
            Assert.Equal(produced, seen);
        }
    }

    [Fact]
    public async Task Dashboard_TokenExpiredClose_AsksForNewTokenAndReconnectsWithIt()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var ct = TestContext.Current.CancellationToken;
        await using var live = await LiveService.StartAsync(withHooks: true, ct);
        var (meter, app, hooks) = (live.Meter, live.App, live.Hooks);
        var (context, page, _) = await chromium.NewPageAsync();
        await using var __ = context;

        await page.GotoAsync(new Uri(app.BaseAddress, "/#token=first-token").ToString());
        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'open'", null, Wait);
        Assert.Contains("bearer, first-token", hooks.Protocols);
        Assert.DoesNotContain("token", page.Url, StringComparison.Ordinal);

        live.CloseAll(CloseReason.TokenExpired);

        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'token-expired'", null, Wait);
        Assert.Equal("token expired", await page.TextContentAsync("#status-text"));
        Assert.True(await page.IsVisibleAsync("#token-form"));

        await page.FillAsync("#token-input", "second-token");
        await page.ClickAsync("#token-form button");
        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'open'", null, Wait);
        Assert.Contains("bearer, second-token", hooks.Protocols);
        Assert.True(await page.IsHiddenAsync("#token-form"));
        Assert.Equal("second-token", await page.EvaluateAsync<string>("() => sessionStorage.getItem('energy-ws-token')"));
    }

    [Fact]
    public async Task Client_FiveSecondTokens_RefreshedInBandWithoutReconnectOrGap()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await Auth.IdentityProvider.StartAsync(ct);
        await using var live = await LiveService.StartAsync(withHooks: true, ct, Auth.AuthSettings.For(provider, new Dictionary<string, string?>
        {
            ["Auth:ClockSkew"] = "00:00:00",
            ["Auth:RefreshNotice"] = "00:00:02",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        }));
        var (meter, app, hooks) = (live.Meter, live.App, live.Hooks);
        await Eventually.TrueAsync(() => app.Get<EnergyWs.Auth.SigningKeyState>().Loaded, "the signing keys are loaded", ct);
        // Each token the page asks for lives 5 seconds: three of them outlive the first.
        hooks.Texts["/test-token"] = () => provider.CreateToken(provider.Rsa, d => d.Expires = DateTime.UtcNow.AddSeconds(5));
        var (context, page, console) = await chromium.NewPageAsync();
        await using var __ = context;
        await ServeAsync(page, app, hooks, "/refresh-test.html", """
            <script type="module">
              import { EnergyWsClient } from '/energy-ws-client.js';
              window.calls = []; window.states = []; window.readings = []; window.controls = [];
              window.client = new EnergyWsClient({
                url: '/ws',
                getToken: async ({ reason }) => { window.calls.push(reason); return (await fetch('/test-token')).text(); },
                onReading: (r) => window.readings.push(Date.parse(r.timestamp)),
                onStateChange: (s) => window.states.push(s),
                onControl: (m) => window.controls.push(m.type),
                onError: (e) => console.log('energy-ws error ' + (e.code ?? e.message)),
              });
            </script>
            """);

        await page.WaitForFunctionAsync("() => window.controls.filter(t => t === 'refreshed').length >= 3", null, new() { Timeout = 30_000, PollingInterval = 100 });

        Assert.Equal(["connecting", "open"], await page.EvaluateAsync<string[]>("() => window.states"));
        Assert.Equal(["connect", "expiring", "expiring", "expiring"], (await page.EvaluateAsync<string[]>("() => window.calls")).Take(4));
        Assert.Single(hooks.Protocols);
        Assert.Contains("notices=1", Assert.Single(hooks.Queries), StringComparison.Ordinal);
        // No gap: every reading the meter produced while the page was connected reached it.
        var received = await page.EvaluateAsync<long[]>("() => window.readings");
        var missing = meter.Produced.Where(t => t >= received[0] && t <= received[^1]).Except(received).ToArray();
        Assert.Empty(missing);
        Assert.True(received[^1] - received[0] > 5_000, "the stream outlived the first token");
        Assert.DoesNotContain(console, line => line.Contains("energy-ws error", StringComparison.Ordinal) || line.StartsWith("pageerror", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Client_TokenExpiredClose_CallsGetTokenAgainAndResumes()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var ct = TestContext.Current.CancellationToken;
        await using var live = await LiveService.StartAsync(withHooks: true, ct);
        var (meter, app, hooks) = (live.Meter, live.App, live.Hooks);
        var (context, page, _) = await chromium.NewPageAsync();
        await using var __ = context;
        await ServeAsync(page, app, hooks, "/client-test.html", """
            <script type="module">
              import { EnergyWsClient } from '/energy-ws-client.js';
              window.calls = []; window.states = []; window.readings = [];
              window.client = new EnergyWsClient({
                url: '/ws', history: '15m',
                getToken: async ({ reason }) => { window.calls.push(reason); return 'token-' + window.calls.length; },
                onReading: (r) => window.readings.push(r.timestamp),
                onStateChange: (s) => window.states.push(s),
              });
            </script>
            """);

        await page.WaitForFunctionAsync("() => window.states.at(-1) === 'open' && window.readings.length > 2", null, Wait);
        live.CloseAll(CloseReason.TokenExpired);

        await page.WaitForFunctionAsync("() => window.calls.includes('expired') && window.states.at(-1) === 'open'", null, Wait);
        Assert.Equal(["connect", "expired"], await page.EvaluateAsync<string[]>("() => window.calls"));
        Assert.Contains("token-expired", await page.EvaluateAsync<string[]>("() => window.states"));
        Assert.Contains("bearer, token-2", hooks.Protocols);

        // The reconnect resumes where the first connection stopped rather than replaying history.
        Assert.Contains(hooks.Queries, q => q.StartsWith("?since=", StringComparison.Ordinal));

        await page.EvaluateAsync("() => window.client.close()");
        await page.WaitForFunctionAsync("() => window.states.at(-1) === 'closed'", null, Wait);
        await Eventually.TrueAsync(() => app.Get<Broadcaster>().Count == 0, "the closed client is gone from the server", ct);
    }

    [Fact]
    public async Task SeedExample_PastedUnchanged_ReceivesReadings()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var ct = TestContext.Current.CancellationToken;
        await using var live = await LiveService.StartAsync(withHooks: true, ct);
        var (meter, app, hooks) = (live.Meter, live.App, live.Hooks);
        var (context, page, console) = await chromium.NewPageAsync();
        await using var _ = context;

        // The seed README's example, byte for byte, except its host points at the test server.
        const string seed = """
            const ws = new WebSocket('wss://energy-ws.k12n.com/ws?token=' + jwt);
            ws.onmessage = (event) => {
              const data = JSON.parse(event.data);
              console.log(`Power: ${data.power_w}W`);
            };
            """;
        var script = seed.Replace("wss://energy-ws.k12n.com/ws", app.WebSocketUri().ToString(), StringComparison.Ordinal);
        await ServeAsync(page, app, hooks, "/seed-example.html", $"<script>const jwt = 'test-token';\n{script}</script>");

        await Eventually.TrueAsync(() => Lines(console).Count(l => l.StartsWith("Power: ", StringComparison.Ordinal) && l.EndsWith('W')) >= 3, "three readings logged", ct);
        Assert.All(Lines(console).Where(l => l.StartsWith("Power: ", StringComparison.Ordinal)),
            l => Assert.True(double.TryParse(l["Power: ".Length..^1], CultureInfo.InvariantCulture, out var _), l));
    }

    private static string[] Lines(List<string> console)
    {
        lock (console)
        {
            return [.. console];
        }
    }

    private async Task ScreenshotAsync(EnergyWsApp app, BrowserNewContextOptions options, string name)
    {
        var (context, page, _) = await chromium.NewPageAsync(options);
        await using var _ = context;
        await page.GotoAsync(app.BaseAddress.ToString());
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart').dataset.points) > 5", null, Wait);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Chromium.ScreenshotPath(name), FullPage = true });
    }

    /// <summary>
    /// Opens a test page served by the app itself: same origin for the module import and the
    /// WebSocket (a page fulfilled by Playwright counts as public and may not reach loopback).
    /// </summary>
    private static async Task ServeAsync(IPage page, EnergyWsApp app, TestHooks hooks, string path, string body)
    {
        hooks.Pages[path] = $"<!doctype html><html><head><meta charset=\"utf-8\"></head><body>{body}</body></html>";
        await page.GotoAsync(new Uri(app.BaseAddress, path).ToString());
    }

    /// <summary>
    /// Whether this server replays with since= (the history feature): ask for everything after a
    /// reading already seen; a resuming server sends the very next one, a live-only one a newer one.
    /// </summary>
    private static async Task<bool> SupportsSinceAsync(EnergyWsApp app)
    {
        string[] seen;
        await using (var live = await WsClient.ConnectAsync(app.WebSocketUri(), cancellationToken: TestContext.Current.CancellationToken))
        {
            seen = [.. (await live.ReceiveManyAsync(3)).Select(Timestamp)];
        }

        await using var resumed = await WsClient.ConnectAsync(app.WebSocketUri("/ws?since=" + Uri.EscapeDataString(seen[0])), cancellationToken: TestContext.Current.CancellationToken);
        string first;
        do
        {
            first = await resumed.ReceiveAsync();
        }
        while (first.Contains("\"type\"", StringComparison.Ordinal));

        return Timestamp(first) == seen[1];
    }

    private static string Timestamp(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("timestamp").GetString()!;
    }

    /// <summary>
    /// The service under test with its broker and simulated meter; disposes the app, then the
    /// meter's producer, then the broker (librdkafka clients before the mock cluster).
    /// </summary>
    private sealed class LiveService : IAsyncDisposable
    {
        private TestKafka _kafka = null!;

        public Meter Meter { get; private set; } = null!;

        public EnergyWsApp App { get; private set; } = null!;

        public TestHooks Hooks { get; } = new();

        public static async Task<LiveService> StartAsync(bool withHooks, CancellationToken ct, IDictionary<string, string?>? settings = null)
        {
            var live = new LiveService { _kafka = new TestKafka() };
            var topic = await live._kafka.CreateTopicAsync();
            live.Meter = Meter.Start(live._kafka, topic);
            live.App = await new EnergyWsApp(
                live._kafka.BootstrapServers,
                topic,
                settings,
                services: withHooks ? s => s.AddSingleton<IStartupFilter>(live.Hooks) : null).StartAsync(ct);
            return live;
        }

        /// <summary>Closes every connection from the server side, as a restart or an expired token would.</summary>
        public void CloseAll(CloseReason reason)
        {
            foreach (var connection in App.Get<Broadcaster>().Snapshot())
            {
                connection.Close(reason);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await App.DisposeAsync();
            await Meter.DisposeAsync();
            _kafka.Dispose();
        }
    }

    /// <summary>
    /// A simulated meter: a reading every 100 ms stamped with the current time, as a bridge would
    /// produce them; remembers every timestamp it produced (the ground truth for gap checks).
    /// </summary>
    private sealed class Meter : IAsyncDisposable
    {
        private readonly IProducer<byte[]?, byte[]?> _producer;
        private readonly string _topic;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<long> _produced = [];
        private Task _loop = Task.CompletedTask;

        private Meter(TestKafka kafka, string topic)
        {
            _producer = kafka.CreateProducer();
            _topic = topic;
        }

        public long[] Produced { get { lock (_produced) { return [.. _produced]; } } }

        public static Meter Start(TestKafka kafka, string topic)
        {
            var meter = new Meter(kafka, topic);
            meter._loop = meter.RunAsync();
            return meter;
        }

        private async Task RunAsync()
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            var energy = 1234.5;
            var i = 0;
            var last = 0L;
            try
            {
                do
                {
                    // A late tick returns at once, so two readings can fall in one millisecond; a
                    // meter never stamps two readings alike (clients key readings by timestamp).
                    last = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), last + 1);
                    var now = DateTimeOffset.FromUnixTimeMilliseconds(last);
                    var power = 1500 + (700 * Math.Sin(i++ / 10.0));
                    energy += power / 3_600_000 / 10;
                    var json = string.Create(CultureInfo.InvariantCulture,
                        $"{{\"timestamp\":\"{now:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}\",\"power_w\":{power:0.0},\"voltage\":{229.5 + Math.Cos(i / 7.0):0.0},\"current\":{power / 230:0.00},\"energy_kwh\":{energy:0.0000}}}");
                    _producer.Produce(_topic, new Message<byte[]?, byte[]?> { Value = Encoding.UTF8.GetBytes(json) });
                    lock (_produced)
                    {
                        _produced.Add(now.ToUnixTimeMilliseconds());
                    }
                }
                while (await timer.WaitForNextTickAsync(_stop.Token));
            }
            catch (OperationCanceledException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _producer.Dispose();
            _stop.Dispose();
        }
    }
}
