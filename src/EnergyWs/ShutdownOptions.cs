using Microsoft.Extensions.Options;

namespace EnergyWs;

internal sealed class ShutdownOptions
{
    public const string Section = "Shutdown";

    /// <summary>
    /// How long stopping may take: clients get their close frames, the consumer closes. The default
    /// leaves room inside Kubernetes' 30 s grace period for the preStop delay and a slow close.
    /// </summary>
    [TimeSpanRange("00:00:01", "00:05:00", ErrorMessage = "Shutdown:Timeout must be between 00:00:01 and 00:05:00.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

[OptionsValidator]
internal sealed partial class ShutdownOptionsValidator : IValidateOptions<ShutdownOptions>;
