using System.Text;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.Extensions.Options;

namespace EnergyWs.Tests.Streaming;

/// <summary>
/// A frame holds its Kafka record (for /ws/energy's data) only while a live client can still be
/// sent it or it is its meter's latest, so a day of history does not hold a day of records.
/// </summary>
public sealed class FrameRecordTests
{
    // A small ring: it holds a power of two at least twice MaxFramesBehind.
    private static readonly StreamingOptions Options = new() { MaxFramesBehind = 4 };

    private static long _sequence;

    [Fact]
    public void Publish_LappedAndSuperseded_LetsGoOfTheRecord_TheLatestOfEachMeterKeepsIt()
    {
        var broadcaster = new Broadcaster(Microsoft.Extensions.Options.Options.Create(Options));
        var quiet = Frame("quiet");
        broadcaster.Publish(quiet);
        var busy = Enumerable.Range(0, 3 * broadcaster.Length).Select(_ => Frame("busy")).ToList();
        busy.ForEach(broadcaster.Publish);

        // Still in the ring: kept.
        Assert.All(busy[^broadcaster.Length..], f => Assert.False(f.Record.IsEmpty));
        // Lapped and superseded: released.
        Assert.All(busy[..^broadcaster.Length], f => Assert.True(f.Record.IsEmpty));
        // Lapped, but its meter's latest: kept for a client that connects now.
        Assert.False(quiet.Record.IsEmpty);

        // Superseded once lapped: released then.
        broadcaster.Publish(Frame("quiet"));
        Assert.True(quiet.Record.IsEmpty);
    }

    [Fact]
    public void Envelope_OfAReleasedRecord_FallsBackToTheReading()
    {
        var catalog = StreamCatalog.EnergyOnly("homelab.energy");
        var frame = Frame("em-a");

        var withRecord = Encoding.UTF8.GetString(EnergyWs.Streaming.Protocol.EnergyCompatProtocol.RenderEnvelope(frame, catalog));
        frame.ReleaseRecord();
        var withReading = Encoding.UTF8.GetString(EnergyWs.Streaming.Protocol.EnergyCompatProtocol.RenderEnvelope(frame, catalog));

        Assert.Equal("""{"type":"data","stream":"energy","timestamp":"2026-01-08T19:30:00Z","data":{"power_w":1,"meter":"em-a","extra":true}}""", withRecord);
        Assert.Equal("""{"type":"data","stream":"energy","timestamp":"2026-01-08T19:30:00Z","data":{"timestamp":"2026-01-08T19:30:00Z","power_w":1}}""", withReading);
    }

    private static ReadingFrame Frame(string device)
    {
        var reading = new Reading { Timestamp = new DateTimeOffset(2026, 1, 8, 19, 30, 0, TimeSpan.Zero), PowerW = 1, Device = device };
        var record = Encoding.UTF8.GetBytes($$"""{"power_w":1,"meter":"{{device}}","extra":true}""");
        return new ReadingFrame(Interlocked.Increment(ref _sequence), reading, """{"timestamp":"2026-01-08T19:30:00Z","power_w":1}"""u8.ToArray(), 0, null, ReadingFrame.EnergyPrefix, record);
    }
}
