using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;

namespace EnergyWs.Readings;

/// <summary>Reading numbers, strings and timestamps out of untrusted JSON without throwing.</summary>
internal static class JsonValues
{
    /// <summary>Unix times at or above this are milliseconds (year 5138 in seconds, 1973 in ms).</summary>
    private const double MillisecondsThreshold = 1e11;

    private const long MaxUnixMilliseconds = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

    /// <summary>
    /// Reads an optional number property. Absent or JSON null leaves <paramref name="value"/> null;
    /// anything else that is not a finite number returns a reason.
    /// </summary>
    public static string? Number(JsonElement obj, string name, ref double? value, double scale = 1)
    {
        if (!obj.TryGetProperty(name, out var element))
        {
            return null;
        }

        return Number(element, ref value, scale, allowString: false);
    }

    public static string? Number(JsonElement element, ref double? value, double scale, bool allowString)
    {
        double d;
        switch (element.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.Number:
                if (!element.TryGetDouble(out d))
                {
                    return DecodeReasons.BadNumber;
                }

                break;
            case JsonValueKind.String when allowString:
                // Some bridges stringify every value; only plain decimal text is taken.
                if (!double.TryParse(element.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out d))
                {
                    return DecodeReasons.BadNumber;
                }

                break;
            default:
                return DecodeReasons.BadNumber;
        }

        if (!double.IsFinite(d))
        {
            return DecodeReasons.NonFinite;
        }

        value = Scale(d, scale);
        return null;
    }

    /// <summary>
    /// Applies a unit scale, rounding away the binary noise of the multiplication (9188.8 Wh is
    /// 9.1888 kWh, not 9.188799999999999) so the wire shows what the meter sent.
    /// </summary>
    public static double Scale(double value, double scale)
    {
        if (scale == 1)
        {
            return value;
        }

        return RoundNoise(value * scale);
    }

    /// <summary>
    /// Rounds away the binary noise of arithmetic on decimal values (0.3 - 0.1 is 0.19999999999999998)
    /// at the ninth decimal, far below any meter's resolution.
    /// </summary>
    public static double RoundNoise(double value) =>
        double.IsFinite(value) && Math.Abs(value) < 1e9 ? Math.Round(value, 9) : value;

    /// <summary>An ISO-8601 string, or a Unix time number in seconds (fractional allowed) or milliseconds.</summary>
    public static bool TryTimestamp(JsonElement element, out DateTimeOffset timestamp)
    {
        timestamp = default;
        return element.ValueKind switch
        {
            JsonValueKind.String => TryIso(element.GetString(), out timestamp),
            JsonValueKind.Number => element.TryGetDouble(out var n) && TryUnix(n, out timestamp),
            _ => false,
        };
    }

    public static bool TryUnix(double value, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (!double.IsFinite(value))
        {
            return false;
        }

        var ms = Math.Round(Math.Abs(value) >= MillisecondsThreshold ? value : value * 1000);
        if (ms is < 0 or > MaxUnixMilliseconds)
        {
            return false;
        }

        timestamp = DateTimeOffset.FromUnixTimeMilliseconds((long)ms);
        return true;
    }

    public static bool TryIso(string? text, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (string.IsNullOrEmpty(text) || text.Length > 64)
        {
            return false;
        }

        const DateTimeStyles styles = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, styles, out timestamp))
        {
            return true;
        }

        // Go and Bloblang write nanoseconds (9 fraction digits); .NET parses at most 7.
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return false;
        }

        var end = dot + 1;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }

        return end - dot - 1 > 7 &&
            DateTimeOffset.TryParse(string.Concat(text.AsSpan(0, dot + 8), text.AsSpan(end)), CultureInfo.InvariantCulture, styles, out timestamp);
    }

    /// <summary>
    /// Whether a record that decoded is a JSON object as it stands, so its bytes can be embedded in
    /// another JSON text: it starts with <c>{</c> after JSON whitespace (no byte order mark).
    /// </summary>
    public static bool IsObject(byte[]? value)
    {
        if (value is null)
        {
            return false;
        }

        foreach (var b in value)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
            {
                continue;
            }

            return b == (byte)'{';
        }

        return false;
    }

    /// <summary>
    /// Whether every string in this JSON text can be read: the bytes are UTF-8 and no <c>\u</c>
    /// escape leaves a UTF-16 surrogate unpaired. System.Text.Json parses both without complaint and
    /// throws only when such a string (or property name) is read, so untrusted JSON that passes this
    /// check may be read with <c>GetString</c>, property lookups and enumeration without throwing.
    /// </summary>
    /// <remarks>Escapes are only looked at where a backslash occurs; text without one costs one vectorized UTF-8 scan.</remarks>
    public static bool HasReadableText(ReadOnlySpan<byte> json)
    {
        if (!Utf8.IsValid(json))
        {
            return false;
        }

        var at = json.IndexOf((byte)'\\');
        while (at >= 0)
        {
            json = json[at..];
            if (json.Length >= 6 && json[1] == (byte)'u' && TryHex4(json[2..6], out var unit) && char.IsSurrogate((char)unit))
            {
                // A high surrogate must be followed at once by an escaped low one; a low one alone is unpaired.
                if (!char.IsHighSurrogate((char)unit) ||
                    json.Length < 12 || json[6] != (byte)'\\' || json[7] != (byte)'u' ||
                    !TryHex4(json[8..12], out var low) || !char.IsLowSurrogate((char)low))
                {
                    return false;
                }

                json = json[12..];
            }
            else
            {
                // Any other escape is two bytes or more; a malformed one is the parser's to reject.
                json = json[Math.Min(2, json.Length)..];
            }

            at = json.IndexOf((byte)'\\');
        }

        return true;
    }

    private static bool TryHex4(ReadOnlySpan<byte> hex, out int value) =>
        int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);

    /// <summary>
    /// After a parse failure: was it nesting beyond <paramref name="limit"/>? Scans brackets
    /// outside strings; only runs on the failure path.
    /// </summary>
    public static bool NestsDeeperThan(ReadOnlySpan<byte> json, int limit)
    {
        var depth = 0;
        var inString = false;
        var escaped = false;
        foreach (var b in json)
        {
            if (inString)
            {
                if (escaped)
                {
                    escaped = false;
                }
                else if (b == (byte)'\\')
                {
                    escaped = true;
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }

                continue;
            }

            switch (b)
            {
                case (byte)'"':
                    inString = true;
                    break;
                case (byte)'{' or (byte)'[':
                    if (++depth > limit)
                    {
                        return true;
                    }

                    break;
                case (byte)'}' or (byte)']':
                    depth--;
                    break;
            }
        }

        return false;
    }
}
