namespace EnergyWs.Demo;

/// <summary>
/// A plausible household: ~150 W base load at night, a morning and a larger evening peak,
/// noise, and appliances (kettle, oven, washing machine) that switch on for a few minutes.
/// Voltage wanders within 225-245 V; current follows from power, voltage and power factor; the
/// energy counter only grows.
/// </summary>
internal sealed class HouseholdLoad(Random random, double startEnergyKwh = 1234.5)
{
    private static readonly (double Watts, TimeSpan Duration)[] Appliances =
    [
        (2000, TimeSpan.FromMinutes(3)),   // kettle
        (2400, TimeSpan.FromMinutes(20)),  // oven
        (1800, TimeSpan.FromMinutes(12)),  // washing machine heating
        (700, TimeSpan.FromMinutes(5)),    // microwave
    ];

    private double _voltage = 231;
    private double _energyKwh = startEnergyKwh;
    private double _applianceWatts;
    private DateTimeOffset _applianceUntil;
    private DateTimeOffset? _last;

    public (double PowerW, double Voltage, double Current, double EnergyKwh) Next(DateTimeOffset now, TimeSpan localOffset)
    {
        var local = now.ToOffset(localOffset);
        var hour = local.Hour + (local.Minute / 60.0);
        var baseLoad = 150 + DailyShape(hour);

        if (now >= _applianceUntil)
        {
            _applianceWatts = 0;
            // About one appliance start every ~10 minutes of simulated time at one reading a second.
            if (random.NextDouble() < 1.0 / 600)
            {
                var (watts, duration) = Appliances[random.Next(Appliances.Length)];
                _applianceWatts = watts;
                _applianceUntil = now + duration;
            }
        }

        var power = Math.Max(60, (baseLoad + _applianceWatts) * (1 + ((random.NextDouble() - 0.5) * 0.1)));
        _voltage = Math.Clamp(_voltage + ((random.NextDouble() - 0.5) * 0.8) - ((_voltage - 232) * 0.02), 225, 245);
        var powerFactor = 0.92 + (random.NextDouble() * 0.06);
        var current = power / (_voltage * powerFactor);

        if (_last is { } last && now > last)
        {
            _energyKwh += power * (now - last).TotalHours / 1000;
        }

        _last = now;
        return (Math.Round(power, 1), Math.Round(_voltage, 1), Math.Round(current, 2), Math.Round(_energyKwh, 3));
    }

    /// <summary>Extra watts above base load by local hour: morning and evening peaks, quiet nights.</summary>
    private static double DailyShape(double hour) =>
        (450 * Bump(hour, 7.5, 1.2)) + (250 * Bump(hour, 13, 2.5)) + (1900 * Bump(hour, 19.5, 1.8)) + (hour is > 8 and < 23 ? 200 : 0);

    private static double Bump(double hour, double center, double width) => Math.Exp(-Math.Pow((hour - center) / width, 2));
}
