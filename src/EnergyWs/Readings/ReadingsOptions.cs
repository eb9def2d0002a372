using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace EnergyWs.Readings;

internal sealed class ReadingsOptions
{
    public const string Section = "Readings";

    /// <summary>Records above this are rejected unread: a meter reading is a few hundred bytes.</summary>
    public const int DefaultMaxRecordBytes = 1024 * 1024;

    [Range(64, 16 * 1024 * 1024, ErrorMessage = "Readings:MaxRecordBytes must be between 64 and 16777216.")]
    public int MaxRecordBytes { get; set; } = DefaultMaxRecordBytes;
}

[OptionsValidator]
internal sealed partial class ReadingsOptionsValidator : IValidateOptions<ReadingsOptions>;
