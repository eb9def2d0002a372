using EnergyWs.History;
using EnergyWs.Readings;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.History;

/// <summary>Readers take the history without the consumer's help: whatever they get is a consistent view.</summary>
public sealed class ReadingHistoryConcurrencyTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task QueriesWhileTheConsumerAppends_GetTheNewestReadingsInOrderWithoutGapsOrRepeats()
    {
        const int MaxReadings = 5_000;
        const int Appends = 200_000;
        var time = new FakeTimeProvider(Now);
        var history = new ReadingHistory(Options.Create(new HistoryOptions { Window = TimeSpan.FromDays(1), MaxReadings = MaxReadings }), time);
        var reading = new Reading { Timestamp = Now.AddMinutes(-1), PowerW = 1, Device = "m" };
        var json = ReadingJson.Serialize(reading);

        // The ring grows, then wraps many times while readers walk it.
        var writer = Task.Run(() =>
        {
            for (var i = 1; i <= Appends; i++)
            {
                history.Append(new ReadingFrame(i, reading, json, 0, null));
            }
        }, TestContext.Current.CancellationToken);

        var views = 0;
        while (!writer.IsCompleted || views == 0)
        {
            var view = history.Query(ClientSelection.All, null, null, int.MaxValue);
            var frames = view.Frames;
            Assert.True(frames.Count <= MaxReadings);
            for (var i = 1; i < frames.Count; i++)
            {
                Assert.Equal(frames[i - 1].Sequence + 1, frames[i].Sequence);
            }

            if (frames.Count > 0)
            {
                Assert.True(frames[^1].Sequence <= view.ThroughSequence);
            }

            var latest = history.Latest(ClientSelection.All).Frames;
            Assert.True(latest.Count <= 1);
            views++;
        }

        await writer;
        var last = history.Query(ClientSelection.All, null, null, int.MaxValue).Frames;
        Assert.Equal(Enumerable.Range(Appends - MaxReadings + 1, MaxReadings).Select(i => (long)i), last.Select(f => f.Sequence));
    }
}
