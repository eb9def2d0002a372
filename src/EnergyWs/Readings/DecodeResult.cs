namespace EnergyWs.Readings;

/// <summary>
/// Outcome of decoding one record. <see cref="Reason"/> is a short, stable, metric-friendly word
/// ("not_json", "too_large", …) when the record was rejected.
/// </summary>
internal readonly record struct DecodeResult(bool Ok, string? Reason)
{
    public static DecodeResult Success { get; } = new(true, null);

    public static DecodeResult Invalid(string reason) => new(false, reason);
}
