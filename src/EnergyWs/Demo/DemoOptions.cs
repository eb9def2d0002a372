using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace EnergyWs.Demo;

internal sealed class DemoOptions
{
    public const string Section = "Demo";

    /// <summary>Embedded broker + simulated meter. Unset: on in Development when no Kafka:BootstrapServers is configured.</summary>
    public bool? Enabled { get; set; }

    /// <summary>
    /// The simulated meter; off leaves the embedded broker's topic to an outside producer (the load
    /// benchmark produces its own numbered readings and must not see the simulator's).
    /// </summary>
    public bool Simulator { get; set; } = true;

    /// <summary>How often the simulated meter reports (a Shelly EM reports about once a second).</summary>
    [TimeSpanRange("00:00:00.010", "01:00:00", ErrorMessage = "Demo:Interval must be between 00:00:00.01 and 01:00:00.")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);
}

[OptionsValidator]
internal sealed partial class DemoOptionsValidator : IValidateOptions<DemoOptions>;
