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

    /// <summary>Device+channel entries whose last known fields are kept (memory bound against made-up ids).</summary>
    [Range(1, 1_000_000, ErrorMessage = "Readings:MaxDevices must be between 1 and 1000000.")]
    public int MaxDevices { get; set; } = MeterState.DefaultMaxEntries;

    /// <summary>Field mappings for meters and bridges the built-in decoders do not know; checked at start.</summary>
    public List<MappingOptions> Mappings { get; set; } = [];
}

/// <summary>Compiles every mapping at start so a bad regex or path stops the service with the setting's name.</summary>
internal sealed class ReadingsMappingsValidator : IValidateOptions<ReadingsOptions>
{
    public ValidateOptionsResult Validate(string? name, ReadingsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        FieldMapping.CompileAll(options.Mappings, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

[OptionsValidator]
internal sealed partial class ReadingsOptionsValidator : IValidateOptions<ReadingsOptions>;
