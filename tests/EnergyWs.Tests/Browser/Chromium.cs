using Microsoft.Playwright;

namespace EnergyWs.Tests.Browser;

/// <summary>
/// One headless Debian Chromium (/usr/bin/chromium, installed by .ci/run) per test class, driven by
/// Playwright. Playwright's own browser builds are never downloaded or used.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public const string MissingReason = "Browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it).";

    private IPlaywright? _playwright;

    public static bool IsInstalled => File.Exists(ExecutablePath);

    public IBrowser Browser { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!IsInstalled)
        {
            return;
        }

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    /// <summary>A fresh context (own storage, own sessionStorage) with console output collected.</summary>
    public async Task<(IBrowserContext Context, IPage Page, List<string> Console)> NewPageAsync(BrowserNewContextOptions? options = null)
    {
        var context = await Browser.NewContextAsync(options ?? new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, message) =>
        {
            lock (console)
            {
                console.Add(message.Text);
            }
        };
        page.PageError += (_, error) =>
        {
            lock (console)
            {
                console.Add("pageerror: " + error);
            }
        };
        return (context, page, console);
    }

    /// <summary>Where screenshots go: the test output directory, kept as an artifact of the run.</summary>
    public static string ScreenshotPath(string name)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, name);
    }
}
