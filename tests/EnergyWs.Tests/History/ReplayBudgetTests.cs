using EnergyWs.History;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.History;

/// <summary>The frames replays in flight may hold together: beyond the budget a replay waits its turn, then runs.</summary>
public sealed class ReplayBudgetTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task ReplaysBeyondTheBudget_WaitInOrder_AndRunAsEarlierOnesAreWritten()
    {
        var budget = Create(frames: 100, wait: TimeSpan.FromSeconds(10));
        var first = await budget.AcquireAsync(60, Ct);
        var second = budget.AcquireAsync(60, Ct).AsTask();
        var third = budget.AcquireAsync(30, Ct).AsTask();

        // The third would fit, but waits behind the second so a large replay is not starved.
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);

        first!.Dispose();
        var secondLease = await second.WaitAsync(Ct);
        var thirdLease = await third.WaitAsync(Ct);
        Assert.NotNull(secondLease);
        Assert.NotNull(thirdLease);
        Assert.Equal(10, budget.Available);

        secondLease.Dispose();
        thirdLease.Dispose();
        thirdLease.Dispose();
        Assert.Equal(100, budget.Available);
    }

    [Fact]
    public async Task SnapshotSmallerThanItsShare_GivesTheRestBackAtOnce()
    {
        var budget = Create(frames: 100, wait: TimeSpan.FromSeconds(10));
        var lease = await budget.AcquireAsync(100, Ct);
        var waiting = budget.AcquireAsync(50, Ct).AsTask();

        lease!.Keep(20);

        Assert.NotNull(await waiting.WaitAsync(Ct));
        Assert.Equal(30, budget.Available);
    }

    [Fact]
    public async Task WaitRunsOut_AnswersNullAndLeavesTheQueue()
    {
        var budget = Create(frames: 100, wait: TimeSpan.FromSeconds(10));
        var held = await budget.AcquireAsync(100, Ct);
        var waiting = budget.AcquireAsync(80, Ct).AsTask();
        var behind = budget.AcquireAsync(10, Ct).AsTask();

        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Null(await waiting.WaitAsync(Ct));
        Assert.Null(await behind.WaitAsync(Ct));
        held!.Dispose();
        Assert.Equal(100, budget.Available);
    }

    [Fact]
    public async Task ClientGoneWhileWaiting_CancelsAndLetsTheNextOneIn()
    {
        var budget = Create(frames: 100, wait: TimeSpan.FromSeconds(10));
        var held = await budget.AcquireAsync(50, Ct);
        using var gone = new CancellationTokenSource();
        var cancelled = budget.AcquireAsync(80, gone.Token).AsTask();
        var next = budget.AcquireAsync(40, Ct).AsTask();

        await gone.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.NotNull(await next.WaitAsync(Ct));
        held!.Dispose();
        Assert.Equal(60, budget.Available);
    }

    [Fact]
    public async Task RequestLargerThanTheBudget_TakesAllOfIt()
    {
        var budget = Create(frames: 100, wait: TimeSpan.FromSeconds(10));
        var lease = await budget.AcquireAsync(1_000, Ct);
        Assert.Equal(100, lease!.Frames);
        Assert.Equal(0, budget.Available);
    }

    [Theory]
    [InlineData(0, 100, 10, "ReplayBudget")]
    [InlineData(99, 100, 10, "ReplayBudget")]
    [InlineData(100, 100, -1, "ReplayWaitTimeout")]
    [InlineData(100, 100, 301, "ReplayWaitTimeout")]
    public void Options_OutOfRange_FailValidationNamingTheSetting(int replayBudget, int maxReadings, int waitSeconds, string setting)
    {
        var options = new HistoryOptions { ReplayBudget = replayBudget, MaxReadings = maxReadings, ReplayWaitTimeout = TimeSpan.FromSeconds(waitSeconds) };
        var result = new HistoryOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(setting, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_Defaults_AreValid()
    {
        Assert.True(new HistoryOptionsValidator().Validate(null, new HistoryOptions()).Succeeded);
    }

    private ReplayBudget Create(int frames, TimeSpan wait) =>
        new(Options.Create(new HistoryOptions { ReplayBudget = frames, MaxReadings = 1, ReplayWaitTimeout = wait }), _time);
}
