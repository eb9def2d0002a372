using System.Diagnostics;
using System.Text;

namespace EnergyWs.Tests.Operations;

/// <summary>
/// Runs deploy/verify.sh: the container's Native AOT publish for both architectures, a run of the
/// x64 executable with SIGTERM, and the Kubernetes render. Takes minutes (two AOT compilations).
/// </summary>
[Trait("Category", "Slow")]
public sealed class DeployTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(15);

    [Fact]
    public async Task Deploy_VerifyScript_PublishesBothArchitecturesAndRendersManifests()
    {
        // Native AOT for both architectures: clang, and the other architecture's cross linker.
        var cross = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64
            ? "x86_64-linux-gnu-gcc"
            : "aarch64-linux-gnu-gcc";
        string[] tools = ["bash", "file", "kubectl", "curl", "dotnet", "clang", cross];
        var missing = tools.Where(t => !OnPath(t)).ToList();
        Assert.SkipWhen(missing.Count > 0, $"deploy/verify.sh needs {string.Join(", ", missing)} (.ci/run installs them)");
        var root = RepositoryRoot();

        var start = new ProcessStartInfo("nice", ["-n", "10", "bash", Path.Combine(root, "deploy", "verify.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        // The publishes must not inherit the test host's MSBuild state.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var stdout = PumpAsync(process.StandardOutput, output);
        var stderr = PumpAsync(process.StandardError, output);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(Timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await Task.WhenAll(stdout, stderr);
        TestContext.Current.TestOutputHelper?.WriteLine(output.ToString());
        Assert.True(process.ExitCode == 0, $"deploy/verify.sh exited {process.ExitCode}:\n{output}");
        Assert.Contains("verify: OK", output.ToString(), StringComparison.Ordinal);
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (into)
            {
                into.AppendLine(line);
            }
        }
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Any(dir => File.Exists(Path.Combine(dir, tool)));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EnergyWs.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("EnergyWs.slnx not found above " + AppContext.BaseDirectory);
    }
}
