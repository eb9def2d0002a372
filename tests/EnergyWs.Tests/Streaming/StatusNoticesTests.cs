using System.Globalization;
using System.Net;
using System.Text.Json;
using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;
using EnergyWs.Tests.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.Streaming;

/// <summary>
/// A client that asks for notices (<c>?notices=1</c>) hears when its stream or one of its devices
/// goes quiet and when it is back; a client that did not ask never sees anything but readings.
/// The real service on a fake clock: time moves only when the test advances it.
/// </summary>
[Collection(ProcessWideMetrics.Name)]
public sealed class StatusNoticesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MeterStops_NoticesClientsGetStaleThenLive_ALateOneGetsWhatIsStale_PlainClientOnlyReadings()
    {
        var time = new FakeTimeProvider(T0);
        await using var stack = await TestStack.StartAsync(
            new Dictionary<string, string?> { ["Kafka:ProbeInterval"] = "00:10:00" },
            services => services.AddSingleton<TimeProvider>(time),
            Ct);
        using var management = new HttpClient { BaseAddress = stack.App.ManagementAddress };
        await Scrape.UntilStatusAsync(management, "/health/ready", HttpStatusCode.OK, Eventually.DefaultTimeout, Ct);
        await using var plain = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws"), cancellationToken: Ct);
        await using var notices = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws?notices=1"), cancellationToken: Ct);
        await using var otherMeter = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws?notices=1&device=em-b"), cancellationToken: Ct);

        var first = Reading("em-a", 0);
        await stack.ProduceAsync([first]);
        Assert.Equal(first, await plain.ReceiveAsync());
        Assert.Equal(first, await notices.ReceiveAsync());

        // 61 s without a record: the stream and its one device are stale.
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(
            [Status(null, "stale", T0), Status("em-a", "stale", T0)],
            await notices.ReceiveManyAsync(2));

        // Connecting now: the last reading and what is stale, in either order.
        await using var late = await WsClient.ConnectAsync(stack.App.WebSocketUri("/ws?notices=1"), cancellationToken: Ct);
        Assert.Equal(
            new[] { first, Status(null, "stale", T0), Status("em-a", "stale", T0) }.Order(StringComparer.Ordinal),
            (await late.ReceiveManyAsync(3)).Order(StringComparer.Ordinal));

        // The meter is back: live again, once the next check sees it.
        var back = Reading("em-a", 1);
        await stack.ProduceAsync([back]);
        Assert.Equal(back, await notices.ReceiveAsync());
        time.Advance(FreshnessMonitor.CheckInterval);
        var backAt = T0.AddSeconds(61);
        Assert.Equal([Status(null, "live", backAt), Status("em-a", "live", backAt)], await notices.ReceiveManyAsync(2));
        Assert.Equal([back, Status(null, "live", backAt), Status("em-a", "live", backAt)], await late.ReceiveManyAsync(3));

        // The plain client saw the two readings and nothing else; the client of em-b alone saw
        // the stream's notices but none of em-a's, nor its readings.
        Assert.Equal(back, await plain.ReceiveAsync());
        Assert.Equal([Status(null, "stale", T0), Status(null, "live", backAt)], await otherMeter.ReceiveManyAsync(2));
        var marker = Reading("em-b", 2);
        await stack.ProduceAsync([marker]);
        Assert.Equal(marker, await otherMeter.ReceiveAsync());
        Assert.Equal(marker, await plain.ReceiveAsync());
    }

    /// <summary>The i-th seed reading of <paramref name="device"/>, in the form the service sends it.</summary>
    private static string Reading(string device, int i) => SeedReadings.Json(i, T0)[..^1] + $",\"device\":\"{device}\"}}";

    private static string Status(string? device, string state, DateTimeOffset last) =>
        JsonSerializer.Serialize(new Dictionary<string, string?>
        {
            ["type"] = "status",
            ["stream"] = "energy",
            ["device"] = device,
            ["state"] = state,
            ["last"] = last.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        });
}
