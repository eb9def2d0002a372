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
        var third = budget.AcquireAsync(50, Ct).AsTask();

        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);

        // Only the head fits in what the first gives back: the third still waits behind it.
        first!.Dispose();
        var secondLease = await second.WaitAsync(Ct);
        Assert.NotNull(secondLease);
        Assert.False(third.IsCompleted);
        Assert.Equal(40, budget.Available);

        secondLease.Dispose();
        var thirdLease = await third.WaitAsync(Ct);
        Assert.NotNull(thirdLease);
        thirdLease.Dispose();
        thirdLease.Dispose();
        Assert.Equal(100, budget.Available);
    }

    [Fact]
    public async Task SmallReplayThatFitsInWhatIsFree_IsGrantedAtOnce_WhileALargeOneWaits()
    {
        var budget = Create(frames: 100, wait: TimeSpan.FromSeconds(10));
        var held = await budget.AcquireAsync(60, Ct);
        var large = budget.AcquireAsync(60, Ct).AsTask();

        // A latest-only connect or a short reconnect does not queue behind the large waiter.
        var small = budget.AcquireAsync(30, Ct).AsTask();

        Assert.True(small.IsCompletedSuccessfully);
        Assert.NotNull(await small);
        Assert.False(large.IsCompleted);
        Assert.Equal(10, budget.Available);

        held!.Dispose();
        Assert.NotNull(await large.WaitAsync(Ct));
    }

    [Fact]
    public async Task SamePrincipal_SecondReplayWaitsForTheFirst_WhileOthersGoAhead()
    {
        var budget = Create(frames: 1_000, wait: TimeSpan.FromSeconds(10));
        var first = await budget.AcquireAsync("ip:10.0.0.1", 10, Ct);
        var second = budget.AcquireAsync("ip:10.0.0.1", 10, Ct).AsTask();
        var other = await budget.AcquireAsync("ip:10.0.0.2", 10, Ct);

        Assert.NotNull(first.Lease);
        Assert.NotNull(other.Lease);
        Assert.False(second.IsCompleted);

        first.Lease.Dispose();
        var next = await second.WaitAsync(Ct);
        Assert.NotNull(next.Lease);
        Assert.False(next.PrincipalBusy);

        next.Lease.Dispose();
        other.Lease.Dispose();
        Assert.Equal(1_000, budget.Available);
    }

    [Fact]
    public async Task SamePrincipal_FirstReplayNotDoneWithinTheWait_SecondIsRefusedAsBusy()
    {
        var budget = Create(frames: 1_000, wait: TimeSpan.FromSeconds(10));
        var first = await budget.AcquireAsync("sub:alice", 10, Ct);
        var second = budget.AcquireAsync("sub:alice", 10, Ct).AsTask();

        _time.Advance(TimeSpan.FromSeconds(10));

        var refused = await second.WaitAsync(Ct);
        Assert.Null(refused.Lease);
        Assert.True(refused.PrincipalBusy);

        // The refusal left the first's turn alone; once it is done the principal may replay again.
        first.Lease!.Dispose();
        var again = await budget.AcquireAsync("sub:alice", 10, Ct);
        Assert.NotNull(again.Lease);
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
    [InlineData(100, 100, 10, "ReplayTimeout", 0)]
    [InlineData(100, 100, 10, "ReplayTimeout", 3601)]
    public void Options_OutOfRange_FailValidationNamingTheSetting(int replayBudget, int maxReadings, int waitSeconds, string setting, int replaySeconds = 60)
    {
        var options = new HistoryOptions
        {
            ReplayBudget = replayBudget,
            MaxReadings = maxReadings,
            ReplayWaitTimeout = TimeSpan.FromSeconds(waitSeconds),
            ReplayTimeout = TimeSpan.FromSeconds(replaySeconds),
        };
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
