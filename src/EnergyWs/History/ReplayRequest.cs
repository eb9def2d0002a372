using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EnergyWs.History;

/// <summary>
/// What a connecting client asked to catch up on: readings strictly after <see cref="After"/>
/// (from ?since= or ?history=), or, when null, the latest reading of each device/channel.
/// </summary>
internal readonly record struct ReplayRequest(DateTimeOffset? After)
{
    public static ReplayRequest LastValues { get; } = new(null);

    /// <summary>?history=30s|15m|2h|1d (capped at <paramref name="window"/>) or ?since=&lt;ISO-8601 instant&gt;; not both.</summary>
    public static bool TryParse(IQueryCollection query, DateTimeOffset now, TimeSpan window, out ReplayRequest request, out string? error)
    {
        ArgumentNullException.ThrowIfNull(query);
        request = LastValues;
        error = null;
        var history = query["history"];
        var since = query["since"];
        if (history.Count > 0 && since.Count > 0)
        {
            error = "Use either 'history' or 'since', not both.";
            return false;
        }

        if (history.Count > 0)
        {
            if (history.Count > 1 || !TryParseDuration(history[0], out var duration))
            {
                error = "'history' must be a positive duration like 30s, 15m, 2h or 1d.";
                return false;
            }

            request = new ReplayRequest(now - (duration < window ? duration : window));
            return true;
        }

        if (since.Count > 0)
        {
            if (!TryParseInstant(since, out var instant))
            {
                error = "'since' must be one ISO-8601 instant, e.g. 2026-01-08T19:30:00Z.";
                return false;
            }

            request = new ReplayRequest(instant);
        }

        return true;
    }

    /// <summary>A whole number followed by s, m, h or d; zero and overflow are refused.</summary>
    internal static bool TryParseDuration(string? text, out TimeSpan duration)
    {
        duration = default;
        if (string.IsNullOrEmpty(text) || text.Length > 12)
        {
            return false;
        }

        var unit = text[^1] switch
        {
            's' => TimeSpan.TicksPerSecond,
            'm' => TimeSpan.TicksPerMinute,
            'h' => TimeSpan.TicksPerHour,
            'd' => TimeSpan.TicksPerDay,
            _ => 0L,
        };
        if (unit == 0 ||
            !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount) ||
            amount <= 0 || amount > TimeSpan.MaxValue.Ticks / unit / 2)
        {
            return false;
        }

        duration = TimeSpan.FromTicks(amount * unit);
        return true;
    }

    /// <summary>An ISO-8601 instant; without an offset it is taken as UTC.</summary>
    internal static bool TryParseInstant(StringValues values, out DateTimeOffset instant)
    {
        instant = default;
        if (values.Count != 1 || string.IsNullOrWhiteSpace(values[0]) || values[0]!.Length > 64)
        {
            return false;
        }

        // An unencoded '+' in "…+01:00" arrives as a space; put it back.
        var text = values[0]!.Trim().Replace(' ', '+');
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out instant)
            && text.Contains('T', StringComparison.Ordinal);
    }
}
