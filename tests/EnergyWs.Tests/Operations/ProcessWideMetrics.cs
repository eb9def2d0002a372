namespace EnergyWs.Tests.Operations;

/// <summary>
/// Tests that read /metrics run alone. OpenTelemetry listens to meters by name across the whole
/// process, so while other tests' apps run in parallel a scrape would add their counters to this
/// app's. (A deployed process hosts one app; this is a test-host artefact.)
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideMetrics
{
    public const string Name = "Process-wide metrics";
}
