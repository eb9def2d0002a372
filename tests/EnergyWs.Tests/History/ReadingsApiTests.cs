using System.Net;
using EnergyWs.History;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.History;

public sealed class ReadingsApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Readings_SinceAndUntil_ReturnTheSameBytesAsFramesInOrder()
    {
        await using var stack = await TestStack.StartAsync(Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(10));
        var all = Enumerable.Range(0, 10).Select(i => TimedReadings.Series(start, i)).ToList();
        await stack.ProduceAsync(all);

        await TimedReadings.ConsumedAsync(stack.App, 10, Ct);
        using var http = new HttpClient { BaseAddress = stack.App.BaseAddress };

        var since = Uri.EscapeDataString(TimedReadings.Iso(start.AddSeconds(2)));
        var until = Uri.EscapeDataString(TimedReadings.Iso(start.AddSeconds(5)));
        using var response = await http.GetAsync($"/api/readings?since={since}&until={until}", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal($"[{string.Join(',', all[3..6])}]", await response.Content.ReadAsStringAsync(Ct));

        Assert.Equal($"[{string.Join(',', all)}]", await http.GetStringAsync("/api/readings", Ct));
        Assert.Equal($"[{all[^1]}]", await http.GetStringAsync("/api/readings/latest", Ct));
    }

    [Fact]
    public async Task Readings_DeviceAndChannel_FilterAndLatestIsPerDeviceChannel()
    {
        await using var stack = await TestStack.StartAsync(Ct);

        // The seed format carries no device, so frames with devices go into the history directly.
        var history = stack.App.Get<ReadingHistory>();
        var now = DateTimeOffset.UtcNow;
        var frames = new[]
        {
            ReadingHistoryTests.Frame(1, "a", "0", 1, now.AddSeconds(-4)),
            ReadingHistoryTests.Frame(2, "b", "0", 2, now.AddSeconds(-3)),
            ReadingHistoryTests.Frame(3, "a", "1", 3, now.AddSeconds(-2)),
            ReadingHistoryTests.Frame(4, "a", "0", 4, now.AddSeconds(-1)),
        };
        foreach (var frame in frames)
        {
            history.Append(frame);
        }

        string Json(params int[] indexes) => $"[{string.Join(',', indexes.Select(i => System.Text.Encoding.UTF8.GetString(frames[i].Utf8Json.Span)))}]";
        using var http = new HttpClient { BaseAddress = stack.App.BaseAddress };
        Assert.Equal(Json(0, 2, 3), await http.GetStringAsync("/api/readings?device=a", Ct));
        Assert.Equal(Json(0, 3), await http.GetStringAsync("/api/readings?device=a&channel=0", Ct));
        Assert.Equal(Json(0, 1, 3), await http.GetStringAsync("/api/readings?device=b&device=a&channel=0", Ct));
        Assert.Equal(Json(1, 2, 3), await http.GetStringAsync("/api/readings/latest", Ct));
        Assert.Equal(Json(2, 3), await http.GetStringAsync("/api/readings/latest?device=a", Ct));
    }

    [Fact]
    public async Task Readings_MoreThanMaxApiReadings_ReturnsTheNewestAndSaysTruncated()
    {
        await using var stack = await TestStack.StartAsync(new Dictionary<string, string?> { ["History:MaxApiReadings"] = "3" }, Ct);
        var start = TimedReadings.Ago(TimeSpan.FromMinutes(10));
        var all = Enumerable.Range(0, 5).Select(i => TimedReadings.Series(start, i)).ToList();
        await stack.ProduceAsync(all);

        await TimedReadings.ConsumedAsync(stack.App, 5, Ct);
        using var http = new HttpClient { BaseAddress = stack.App.BaseAddress };
        using var response = await http.GetAsync("/api/readings", Ct);
        Assert.Equal($"[{string.Join(',', all[2..])}]", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("true", Assert.Single(response.Headers.GetValues(ReadingsApi.TruncatedHeader)));
    }

    [Theory]
    [InlineData("/api/readings?since=yesterday")]
    [InlineData("/api/readings?until=12")]
    [InlineData("/api/readings?since=2026-01-08T20:00:00Z&until=2026-01-08T19:00:00Z")]
    [InlineData("/api/readings/latest?device=" + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    public async Task Readings_BadParameters_Get400ProblemDetails(string pathAndQuery)
    {
        await using var stack = await TestStack.StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = stack.App.BaseAddress };
        using var response = await http.GetAsync(pathAndQuery, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
