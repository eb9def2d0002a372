using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;

namespace EnergyWs.Tests.Resilience;

/// <summary>
/// Sums the measurements of a few instruments of one app (one IMeterFactory), by the value of
/// their first tag. Unlike MetricCollector it keeps no per-measurement history, so it does not
/// itself grow the heap a leak test watches.
/// </summary>
internal sealed class MetricTotals : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<(string Instrument, string? Tag), long> _totals = [];
    private readonly Lock _gate = new();

    public MetricTotals(IMeterFactory scope, params string[] instruments)
    {
        var names = instruments.ToHashSet(StringComparer.Ordinal);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, scope) && names.Contains(instrument.Name))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.Start();
    }

    /// <summary>The sum over every tag value, or for one value of the first tag.</summary>
    public long Total(string instrument, string? tag = null)
    {
        lock (_gate)
        {
            return _totals.Where(kv => kv.Key.Instrument == instrument && (tag is null || kv.Key.Tag == tag)).Sum(kv => kv.Value);
        }
    }

    public Dictionary<string, long> ByTag(string instrument)
    {
        lock (_gate)
        {
            return _totals.Where(kv => kv.Key.Instrument == instrument).ToDictionary(kv => kv.Key.Tag ?? "", kv => kv.Value);
        }
    }

    private void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        var tag = tags.Length > 0 ? tags[0].Value as string : null;
        lock (_gate)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_totals, (instrument.Name, tag), out _) += value;
        }
    }

    public void Dispose() => _listener.Dispose();
}
