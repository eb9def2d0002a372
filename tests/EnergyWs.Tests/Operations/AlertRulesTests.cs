namespace EnergyWs.Tests.Operations;

/// <summary>The shipped Prometheus rules load and their unit tests (firing and not firing) pass.</summary>
public sealed class AlertRulesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Rules_CheckRules_Succeeds()
    {
        Assert.SkipUnless(Promtool.IsInstalled, Promtool.MissingReason);

        var (exitCode, output) = await Promtool.RunAsync(["check", "rules", Promtool.RulesFile], input: null, Ct);

        Assert.True(exitCode == 0, $"promtool check rules exited {exitCode}:\n{output}");
        Assert.Contains("SUCCESS: 5 rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rules_TestRules_Succeeds()
    {
        Assert.SkipUnless(Promtool.IsInstalled, Promtool.MissingReason);

        var (exitCode, output) = await Promtool.RunAsync(["test", "rules", Promtool.RulesTestFile], input: null, Ct);

        Assert.True(exitCode == 0, $"promtool test rules exited {exitCode}:\n{output}");
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }
}
