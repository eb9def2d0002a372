using System.Diagnostics;
using System.Text.RegularExpressions;

namespace EnergyWs.Tests.Infrastructure;

/// <summary>
/// The service run as its own process, as a user runs it, in demo mode (its embedded broker and
/// simulated meter): the Native AOT binary, or the JIT build with <c>dotnet energy-ws.dll</c>.
/// </summary>
internal sealed partial class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServiceProcess(Process process) => _process = process;

    /// <summary>The JIT build next to the tests (a project reference copies it there).</summary>
    public static ServiceProcess StartJit(params string[] args) =>
        Start("dotnet", AppContext.BaseDirectory, [Path.Combine(AppContext.BaseDirectory, "energy-ws.dll")], args);

    public static ServiceProcess StartBinary(string binary, params string[] args) =>
        Start(binary, Path.GetDirectoryName(binary)!, [], args);

    private static ServiceProcess Start(string fileName, string workingDirectory, string[] program, string[] args)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        // Later arguments win: a test may replace the URL.
        foreach (var arg in program.Concat(["--urls", "http://127.0.0.1:0", "--Management:Port=0", "--Demo:Enabled=true", "--Demo:Interval=00:00:00.100"]).Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        return new ServiceProcess(Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start"));
    }

    /// <summary>The management listener's scrape address, announced with the WebSocket address.</summary>
    public Uri? MetricsUrl { get; private set; }

    /// <summary>The demo announces its WebSocket address once Kestrel listens; read it from stdout.</summary>
    public async Task<Uri> ReadWebSocketUrlAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Eventually.DefaultTimeout);
        var seen = new List<string>();
        while (await _process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            seen.Add(line);
            if (WebSocketUrl().Match(line) is { Success: true } match)
            {
                // Keep both pipes read, so a full pipe never blocks the service's logging.
                _ = _process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                _ = _process.StandardError.ReadToEndAsync(CancellationToken.None);
                MetricsUrl = new Uri(match.Groups[2].Value);
                return new Uri(match.Groups[1].Value);
            }
        }

        var stderr = await _process.StandardError.ReadToEndAsync(cancellationToken);
        throw new InvalidOperationException($"The service exited before listening:\n{string.Join('\n', seen)}\n{stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync(CancellationToken.None);
        _process.Dispose();
    }

    [GeneratedRegex(@"WebSocket: (wss?://\S+)  Metrics: (http://\S+)")]
    private static partial Regex WebSocketUrl();
}
