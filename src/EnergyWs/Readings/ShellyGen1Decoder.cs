using System.Globalization;

namespace EnergyWs.Readings;

/// <summary>
/// Shelly Gen1 EM / 3EM: one plain-text number per MQTT topic,
/// <c>shellies/&lt;id&gt;/emeter/&lt;i&gt;/{power, voltage, current, total, total_returned, pf, reactive_power}</c>.
/// Counters (<c>total</c>, <c>total_returned</c>) are Wh.
/// </summary>
internal static class ShellyGen1Decoder
{
    private const string EmeterSegment = "/emeter/";

    private static readonly string[] Channels = ["0", "1", "2"];

    /// <summary>The topic is a Gen1 emeter topic: <c>&lt;prefix&gt;/&lt;id&gt;/emeter/&lt;i&gt;/&lt;metric&gt;</c>.</summary>
    public static bool IsEmeterTopic(string? topic) =>
        topic is not null && topic.IndexOf(EmeterSegment, StringComparison.Ordinal) > 0;

    public static string? Decode(ReadOnlySpan<byte> payload, string topic, List<MeterUpdate> updates)
    {
        var at = topic.IndexOf(EmeterSegment, StringComparison.Ordinal);
        var rest = topic.AsSpan(at + EmeterSegment.Length);
        var slash = rest.IndexOf('/');
        if (slash <= 0 || slash > 3)
        {
            return DecodeReasons.UnknownFormat;
        }

        var index = rest[..slash];
        var metric = rest[(slash + 1)..];
        foreach (var ch in index)
        {
            if (!char.IsAsciiDigit(ch))
            {
                return DecodeReasons.UnknownFormat;
            }
        }

        // The device id is the segment before /emeter/ (the default prefix is shellies/<id>).
        var prefix = topic.AsSpan(0, at);
        var device = prefix[(prefix.LastIndexOf('/') + 1)..];

        if (!double.TryParse(payload.Trim(" \t\r\n"u8), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return DecodeReasons.BadNumber;
        }

        if (!double.IsFinite(value))
        {
            return DecodeReasons.NonFinite;
        }

        var fields = default(MeterFields);
        switch (metric)
        {
            case "power":
                fields.PowerW = value;
                break;
            case "voltage":
                fields.Voltage = value;
                break;
            case "current":
                fields.Current = value;
                break;
            case "pf":
                fields.PowerFactor = value;
                break;
            case "total":
                fields.EnergyKwh = JsonValues.Scale(value, 0.001);
                break;
            case "total_returned":
                fields.EnergyReturnedKwh = JsonValues.Scale(value, 0.001);
                break;
            default:
                // reactive_power, energy (Wh·min) and returned_energy have no reading field.
                return DecodeReasons.NoReadings;
        }

        var channel = index.Length == 1 && index[0] - '0' < Channels.Length ? Channels[index[0] - '0'] : index.ToString();
        updates.Add(new MeterUpdate { Device = device.ToString(), Channel = channel, Fields = fields });
        return null;
    }
}
