using System.Diagnostics;

namespace EnergyWs.Tests.Operations;

/// <summary>Prometheus's promtool (Debian package prometheus, installed by .ci/run), and where the shipped rules are.</summary>
internal static class Promtool
{
    public const string MissingReason = "The alert rule tests need promtool on PATH (apt-get install prometheus; .ci/run installs it).";

    public static bool IsInstalled => Path() is not null;

    public static string RulesDirectory => System.IO.Path.Combine(RepositoryRoot(), "deploy", "prometheus");

    public static string RulesFile => System.IO.Path.Combine(RulesDirectory, "energy-ws-rules.yaml");

    public static string RulesTestFile => System.IO.Path.Combine(RulesDirectory, "energy-ws-rules.test.yaml");

    /// <summary>Runs promtool with <paramref name="arguments"/>, <paramref name="input"/> on its stdin; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> arguments, string? input, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Path() ?? throw new InvalidOperationException(MissingReason), arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RulesDirectory,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
        }

        process.StandardInput.Close();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(TimeSpan.FromMinutes(1));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    private static string? Path() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
            .Select(dir => System.IO.Path.Combine(dir, "promtool"))
            .FirstOrDefault(File.Exists);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "EnergyWs.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("EnergyWs.slnx not found above " + AppContext.BaseDirectory);
    }
}
