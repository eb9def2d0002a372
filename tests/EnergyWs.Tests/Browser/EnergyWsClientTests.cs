using System.Collections.Concurrent;
using EnergyWs.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EnergyWs.Tests.Browser;

/// <summary>
/// energy-ws-client.js and the dashboard in Chromium against a scripted server (Playwright's
/// WebSocket routing), for cases the real server cannot be made to produce on demand: a replay that
/// overlaps what the client already has, a connection that goes silent, several meters at once.
/// </summary>
[Trait("Category", "Slow")]
public sealed class EnergyWsClientTests(Chromium chromium) : IClassFixture<Chromium>
{
    private static readonly PageWaitForFunctionOptions Wait = new() { Timeout = 20_000, PollingInterval = 50 };

    private const string ClientPage = """
        <!doctype html><html><head><meta charset="utf-8"></head><body><script type="module">
          import { EnergyWsClient } from '/energy-ws-client.js';
          window.readings = []; window.states = []; window.controls = [];
          window.client = new EnergyWsClient({
            url: '/ws', history: '15m', minDelay: 50, pingInterval: 300, pongTimeout: 300,
            onReading: (r) => window.readings.push(r.timestamp),
            onStateChange: (s) => window.states.push(s),
            onControl: (m) => window.controls.push(m.type),
          });
        </script></body></html>
        """;

    [Fact]
    public async Task Client_ReplayOverlapsAfterClose_DeliversEachReadingOnceAndResumesWithSince()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var (page, dispose) = await OpenAsync();
        await using var scope = dispose;
        var urls = new ConcurrentQueue<string>();
        await page.RouteWebSocketAsync(url => url.Contains("/ws", StringComparison.Ordinal), ws =>
        {
            urls.Enqueue(ws.Url);
            if (urls.Count == 1)
            {
                ws.Send(Reading(1));
                ws.Send(Reading(2));
                ws.Send(Reading(3));
                _ = ws.CloseAsync(new WebSocketRouteCloseOptions { Code = 1001, Reason = "server shutting down" });
            }
            else
            {
                // A resuming server that sends a little too much: 2 and 3 were delivered already.
                ws.Send(Reading(2));
                ws.Send(Reading(3));
                ws.Send("""{"type":"pong","timestamp":"2026-01-08T19:30:10Z"}""");
                ws.Send(Reading(4));
            }
        });

        await page.GotoAsync(_appBase + "client.html");

        await page.WaitForFunctionAsync("() => window.readings.length >= 4 && window.controls.length >= 1", null, Wait);
        Assert.Equal([Timestamp(1), Timestamp(2), Timestamp(3), Timestamp(4)], await page.EvaluateAsync<string[]>("() => window.readings"));
        Assert.Equal(["pong"], await page.EvaluateAsync<string[]>("() => window.controls"));
        var connected = urls.ToArray();
        Assert.Contains("history=15m", connected[0], StringComparison.Ordinal);
        Assert.Contains("since=" + Uri.EscapeDataString(Timestamp(3)), connected[1], StringComparison.Ordinal);
        Assert.DoesNotContain("history=", connected[1], StringComparison.Ordinal);
        Assert.Equal(["connecting", "open", "reconnecting", "open"], await page.EvaluateAsync<string[]>("() => window.states"));
    }

    [Fact]
    public async Task Client_SilentConnection_PingsThenReconnects()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var (page, dispose) = await OpenAsync();
        await using var scope = dispose;
        var connections = 0;
        var received = new ConcurrentQueue<string>();
        await page.RouteWebSocketAsync(url => url.Contains("/ws", StringComparison.Ordinal), ws =>
        {
            if (Interlocked.Increment(ref connections) == 1)
            {
                // Accepts, then never says anything again: no readings, no pong.
                ws.OnMessage(frame => received.Enqueue(frame.Text ?? "<binary>"));
            }
            else
            {
                ws.Send(Reading(1));
            }
        });

        await page.GotoAsync(_appBase + "client.html");

        await page.WaitForFunctionAsync("() => window.readings.length === 1", null, Wait);
        Assert.Equal(2, Volatile.Read(ref connections));
        Assert.Equal(["""{"type":"ping"}"""], received.ToArray());
        Assert.Equal(["connecting", "open", "reconnecting", "open"], await page.EvaluateAsync<string[]>("() => window.states"));
    }

    [Fact]
    public async Task Dashboard_SeveralMeters_ShowsPickerAndSwitchesBetweenThem()
    {
        Assert.SkipUnless(Chromium.IsInstalled, Chromium.MissingReason);
        var (page, dispose) = await OpenAsync();
        await using var scope = dispose;
        var now = DateTimeOffset.UtcNow;
        await page.RouteWebSocketAsync(url => url.Contains("/ws", StringComparison.Ordinal), ws =>
        {
            ws.Send(Reading(now, "house", "0", 512.4));
            ws.Send(Reading(now, "solar", "1", -1234.5));
        });

        await page.GotoAsync(_appBase);

        await page.WaitForFunctionAsync("() => !document.getElementById('picker').hidden", null, Wait);
        Assert.Equal(["house · ch 0", "solar · ch 1"], await page.Locator("#source option").AllTextContentsAsync());
        await page.WaitForFunctionAsync("() => document.getElementById('power').dataset.value === '512.4'", null, Wait);
        Assert.Equal("W", await page.TextContentAsync("#power-unit"));
        Assert.Equal("import", await page.GetAttributeAsync("#direction", "data-direction"));

        await page.SelectOptionAsync("#source", "solar|1");

        await page.WaitForFunctionAsync("() => document.getElementById('power').dataset.value === '-1234.5'", null, Wait);
        Assert.Equal("1.23", await page.TextContentAsync("#power"));
        Assert.Equal("kW", await page.TextContentAsync("#power-unit"));
        Assert.Equal("export", await page.GetAttributeAsync("#direction", "data-direction"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Chromium.ScreenshotPath("dashboard-export.png"), FullPage = true });
    }

    private string _appBase = "";

    /// <summary>The real app serves the page and the module (same origin); the WebSocket is scripted.</summary>
    private async Task<(IPage Page, IAsyncDisposable Dispose)> OpenAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        var kafka = new TestKafka();
        var topic = await kafka.CreateTopicAsync();
        var hooks = new TestHooks();
        hooks.Pages["/client.html"] = ClientPage;
        var app = await new EnergyWsApp(kafka.BootstrapServers, topic, services: s => s.AddSingleton<IStartupFilter>(hooks)).StartAsync(ct);
        _appBase = app.BaseAddress.ToString();
        var (context, page, _) = await chromium.NewPageAsync();
        return (page, new Disposer(async () =>
        {
            await context.DisposeAsync();
            await app.DisposeAsync();
            kafka.Dispose();
        }));
    }

    private static string Timestamp(int i) => $"2026-01-08T19:30:0{i}Z";

    private static string Reading(int i) =>
        $$"""{"timestamp":"{{Timestamp(i)}}","power_w":{{2450 + i}}.5,"voltage":230.2,"current":10.64,"energy_kwh":145.3}""";

    private static string Reading(DateTimeOffset at, string device, string channel, double power) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $$"""{"timestamp":"{{at:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}}","power_w":{{power}},"voltage":230.2,"current":5.3,"energy_kwh":145.3,"device":"{{device}}","channel":"{{channel}}"}""");

    private sealed class Disposer(Func<Task> dispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await dispose();
    }
}
