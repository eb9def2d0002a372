namespace EnergyWs;

/// <summary>
/// Lets a log event through at most once per interval and counts the ones held back, for events
/// any connection, record or broker callback can raise: a pattern that hits every one of them
/// still costs one line per interval.
/// </summary>
/// <remarks>Thread-safe; the lock is taken only on the failure path it throttles.</remarks>
internal sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    /// <summary>The interval for per-connection, per-record and broker-error lines.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();

    // Guarded by _lock.
    private long _last = long.MinValue;
    private long _suppressed;

    /// <summary>True at most once per interval; <paramref name="suppressed"/> is how many were held back since the last one let through.</summary>
    public bool ShouldLog(out long suppressed)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (_last != long.MinValue && time.GetElapsedTime(_last, now) < interval)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }

            suppressed = _suppressed;
            _suppressed = 0;
            _last = now;
            return true;
        }
    }
}
