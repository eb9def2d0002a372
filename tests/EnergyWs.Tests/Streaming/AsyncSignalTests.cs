using EnergyWs.Streaming;

namespace EnergyWs.Tests.Streaming;

public sealed class AsyncSignalTests
{
    [Fact]
    public async Task Signal_RacingWithWait_IsNeverLost()
    {
        // A writer that waits after seeing nothing new must always be woken by a later signal:
        // the publisher bumps a counter then signals, the waiter reads the counter then waits.
        const int Rounds = 20_000;
        var signal = new AsyncSignal();
        var published = 0;
        var seen = 0;
        var waiter = Task.Run(async () =>
        {
            while (Volatile.Read(ref seen) < Rounds)
            {
                var now = Volatile.Read(ref published);
                if (now > seen)
                {
                    Volatile.Write(ref seen, now);
                    continue;
                }

                await signal.WaitAsync();
            }
        }, TestContext.Current.CancellationToken);

        var publisher = Task.Run(() =>
        {
            for (var i = 0; i < Rounds; i++)
            {
                Interlocked.Increment(ref published);
                signal.Signal();
                if (i % 64 == 0)
                {
                    Thread.Yield();
                }
            }
        }, TestContext.Current.CancellationToken);

        await publisher;
        // A lost wake-up leaves the waiter parked with work pending: it would never finish.
        await waiter.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Equal(Rounds, seen);
    }

    [Fact]
    public async Task Signal_BeforeWait_CompletesTheNextWaitAtOnceAndOnlyThatOne()
    {
        var signal = new AsyncSignal();
        signal.Signal();
        signal.Signal();

        Assert.True(signal.WaitAsync().AsTask().IsCompleted);
        var second = signal.WaitAsync().AsTask();
        Assert.False(second.IsCompleted);

        signal.Signal();
        await second.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }
}
