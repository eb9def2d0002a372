using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace EnergyWs;

/// <summary>
/// A TimeSpan bound for options. DataAnnotations' Range(typeof(TimeSpan), …) goes through
/// TypeConverter reflection, which trimming and Native AOT cannot keep.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class TimeSpanRangeAttribute(string minimum, string maximum) : ValidationAttribute
{
    public TimeSpan Minimum { get; } = TimeSpan.Parse(minimum, CultureInfo.InvariantCulture);

    public TimeSpan Maximum { get; } = TimeSpan.Parse(maximum, CultureInfo.InvariantCulture);

    public override bool IsValid(object? value) => value is TimeSpan t && t >= Minimum && t <= Maximum;
}
