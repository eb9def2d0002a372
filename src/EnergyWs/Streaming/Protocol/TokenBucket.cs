namespace EnergyWs.Streaming.Protocol;

/// <summary>
/// Allows <see cref="Rate"/> control messages a second on average with bursts of
/// <see cref="Burst"/>. A browser sends a handful a minute; anything near the rate is a bug or an attack.
/// Not thread-safe: one connection's reader uses it.
/// </summary>
internal struct TokenBucket(TimeProvider time)
{
    public const double Rate = 20;
    public const double Burst = 40;

    private double _tokens = Burst;
    private long _last = time.GetTimestamp();

    public bool TryTake()
    {
        var now = time.GetTimestamp();
        _tokens = Math.Min(Burst, _tokens + (time.GetElapsedTime(_last, now).TotalSeconds * Rate));
        _last = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
