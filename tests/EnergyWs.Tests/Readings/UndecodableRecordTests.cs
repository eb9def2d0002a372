using System.Diagnostics.Metrics;
using System.Text;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using EnergyWs.Tests.Auth;
using EnergyWs.Tests.Infrastructure;
using EnergyWs.Tests.Resilience;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Tests.Readings;

/// <summary>A producer's record whose text cannot be decoded costs that record only, quietly.</summary>
public sealed class UndecodableRecordTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LoneSurrogateDevice_SkippedAsBadTextAndCounted_NextRecordStreams_NoErrorLogged()
    {
        var logs = new LogCapture();
        await using var stack = await TestStack.StartAsync(settings: null, services: AuthSettings.Capture(logs), Ct);
        using var totals = new MetricTotals(stack.App.Get<IMeterFactory>(), "energyws_decode_errors_total");
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: Ct);
        await Eventually.TrueAsync(() => stack.App.Get<Broadcaster>().Count == 1, "the client is registered", Ct);

        // A normalized reading naming its device, the device an escaped lone surrogate; several,
        // so a per-record error log would show.
        const string Poisoned = """{"timestamp":"2026-01-08T19:30:00Z","power_w":1,"device":"\ud800"}""";
        await stack.ProduceAsync([Poisoned, Poisoned, Poisoned, SeedReadings.Json(1)]);

        Assert.Equal(SeedReadings.Json(1), await client.ReceiveAsync());
        await Eventually.TrueAsync(() => totals.Total("energyws_decode_errors_total") == 3, "three records are counted as skipped", Ct);
        Assert.Equal(3, totals.Total("energyws_decode_errors_total", DecodeReasons.BadText));

        var errors = logs.Lines.Where(l => l.StartsWith(nameof(LogLevel.Error), StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));

        // The skip itself is reported as a warning, at most once per interval.
        Assert.Single(logs.Lines, l => l.Contains("Skipped record", StringComparison.Ordinal) && l.Contains(DecodeReasons.BadText, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"timestamp":"2026-01-08T19:30:00Z","power_w":1,"device":"\udc00x"}""")]
    [InlineData("""{"timestamp":"2026-01-08T19:30:00Z","power_w":1,"\ud800":2}""")]
    [InlineData("""{"src":"shellyemg3-1","method":"NotifyStatus","params":{"ts":1767900600.0,"em1:0\ud800":{"id":0,"act_power":5}}}""")]
    [InlineData("""{"topic":"shellyproem50-1/status/em1:0","payload":"{\"id\":0,\"act_power\":5,\"x\":\"\\ud800\"}"}""")]
    public void EscapedLoneSurrogate_AnywhereInTheRecord_IsBadText(string value)
    {
        using var test = new TestDecoder();
        Assert.Equal(DecodeReasons.BadText, test.Reject("shellyproem50-1/status/em1:0", value));
    }

    [Theory]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xC3 })]
    public void InvalidUtf8InAString_IsBadText(byte[] poison)
    {
        // System.Text.Json parses these; only reading the string would throw.
        using var test = new TestDecoder();
        byte[] value = [.. "{\"timestamp\":\"2026-01-08T19:30:00Z\",\"power_w\":1,\"device\":\"m"u8, .. poison, .. "\"}"u8];
        var output = new List<Reading>();
        var result = test.Decoder.Decode(TestDecoder.Record(null, value), output);
        Assert.Equal(DecodeResult.Invalid(DecodeReasons.BadText), result);
        Assert.Empty(output);
    }

    [Fact]
    public void PairedSurrogatesAndEscapedBackslashes_AreNotMistakenForLoneOnes()
    {
        using var test = new TestDecoder();
        var readings = test.Accept(null, """{"timestamp":"2026-01-08T19:30:00Z","power_w":1,"device":"m\ud83d\ude00\\ud800"}""");
        Assert.Equal("m\U0001F600\\ud800", Assert.Single(readings).Device);
    }
}
