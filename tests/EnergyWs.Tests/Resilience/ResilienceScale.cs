namespace EnergyWs.Tests.Resilience;

/// <summary>
/// The resilience scenarios run at two sizes: small enough for the normal test command (the whole
/// Resilience collection stays near a minute on two cores), and the sizes the reliability promises
/// name when ENERGYWS_SOAK=1 (bench/soak.sh).
/// </summary>
internal static class ResilienceScale
{
    public const string Variable = "ENERGYWS_SOAK";

    /// <summary>Appends every reported figure to this file as well (bench/soak.sh collects them).</summary>
    public const string FiguresVariable = "ENERGYWS_FIGURES";

    private static readonly Lock FiguresGate = new();

    public static bool Soak { get; } = Environment.GetEnvironmentVariable(Variable) is "1" or "true";

    public static int Pick(int suite, int soak) => Soak ? soak : suite;

    public static TimeSpan Pick(TimeSpan suite, TimeSpan soak) => Soak ? soak : suite;

    /// <summary>Reports a measured figure to the test output, the runner's diagnostics and the figures file.</summary>
    public static void Report(string scenario, string figure)
    {
        var line = $"[{(Soak ? "soak" : "suite")}] {scenario}: {figure}";
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        TestContext.Current.SendDiagnosticMessage(line);
        if (Environment.GetEnvironmentVariable(FiguresVariable) is { Length: > 0 } file)
        {
            lock (FiguresGate)
            {
                File.AppendAllText(file, line + Environment.NewLine);
            }
        }
    }

    /// <summary>Managed heap after full, compacting collections: what survives, not what awaits collection.</summary>
    public static long SettledHeapBytes()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }

    public static string Mb(long bytes) => $"{bytes / 1024.0 / 1024.0:0.0} MB";
}

/// <summary>
/// The scenarios measure process-wide figures (managed heap, timers, threads, latency on a
/// two-core box), so they run alone, after the parallel tests, one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ResilienceCollection
{
    public const string Name = "Resilience";
}
