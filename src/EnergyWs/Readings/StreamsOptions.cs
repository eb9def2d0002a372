using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace EnergyWs.Readings;

/// <summary>The <c>Streams</c> section: stream name → <see cref="StreamOptions"/>.</summary>
internal sealed partial class StreamsOptions
{
    public const string Section = "Streams";

    /// <summary>The stream that plain <c>/ws</c> serves in the seed's format; always present.</summary>
    public const string Energy = "energy";

    /// <summary>A stream is one bit of a client's selection.</summary>
    public const int MaxStreams = 64;

    /// <summary>
    /// A meter reports every few seconds, a quiet one at least once a minute; a minute without any
    /// record is not a pause between reports.
    /// </summary>
    public static readonly TimeSpan DefaultEnergyStaleAfter = TimeSpan.FromMinutes(1);

    /// <summary>Other devices report less often: a Tasmota plug every 5 minutes (TelePeriod 300), a Shelly H&amp;T when it wakes.</summary>
    public static readonly TimeSpan DefaultStaleAfter = TimeSpan.FromMinutes(10);

    internal static readonly TimeSpan MinStaleAfter = TimeSpan.FromSeconds(5);

    internal static readonly TimeSpan MaxStaleAfter = TimeSpan.FromDays(1);

    /// <summary>Names that a URL, a metric label and a JSON value carry as they are.</summary>
    [GeneratedRegex("^[a-z][a-z0-9_-]{0,31}\\z", RegexOptions.CultureInvariant)]
    internal static partial Regex NamePattern();

    public Dictionary<string, StreamOptions> Streams { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The energy stream's topic when <c>Streams:energy:Topic</c> is not set: <c>Kafka:Topic</c>,
    /// filled in by the Kafka registration (Readings/ does not read Kafka's options). Not bound.
    /// </summary>
    internal string? DefaultEnergyTopic { get; set; }
}

/// <summary>Builds the catalog once at start, so every bad stream setting stops the service with a line naming it.</summary>
internal sealed class StreamsOptionsValidator : IValidateOptions<StreamsOptions>
{
    public ValidateOptionsResult Validate(string? name, StreamsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        StreamCatalog.Build(options, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
