using System.Text;
using EnergyWs.Readings;

namespace EnergyWs.Tests.Readings;

public sealed class ReadingJsonTests
{
    private const string Seed = """{"timestamp":"2026-01-08T19:30:00Z","power_w":2450.5,"voltage":230.2,"current":10.64,"energy_kwh":145.3}""";

    [Fact]
    public void Serialize_SeedReading_IsByteExactSeedFormat()
    {
        var reading = new Reading
        {
            Timestamp = new DateTimeOffset(2026, 1, 8, 19, 30, 0, TimeSpan.Zero),
            PowerW = 2450.5,
            Voltage = 230.2,
            Current = 10.64,
            EnergyKwh = 145.3,
        };

        Assert.Equal(Seed, Encoding.UTF8.GetString(ReadingJson.Serialize(reading)));
    }

    [Fact]
    public void Serialize_SubSecondTimestampAndUnknownFields_MillisecondsAndNulls()
    {
        var reading = new Reading
        {
            Timestamp = new DateTimeOffset(2026, 1, 8, 20, 30, 1, 500, TimeSpan.FromHours(1)),
            PowerW = -412.25,
            Device = "shellyem-C45BBE6B4A21",
            Channel = "1",
        };

        Assert.Equal(
            """{"timestamp":"2026-01-08T19:30:01.5Z","power_w":-412.25,"voltage":null,"current":null,"energy_kwh":null,"device":"shellyem-C45BBE6B4A21","channel":"1"}""",
            Encoding.UTF8.GetString(ReadingJson.Serialize(reading)));
    }
}
