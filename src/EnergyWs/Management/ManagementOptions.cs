using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace EnergyWs.Management;

internal sealed class ManagementOptions
{
    public const string Section = "Management";

    /// <summary>Next to the container's public 8080.</summary>
    public const int DefaultPort = 8081;

    /// <summary>
    /// Port of the management listener (/metrics, detailed /health and /health/ready), on
    /// <see cref="Host"/>; 0 picks a free port. It is a Kestrel endpoint of its own, so a proxy in front of
    /// the public port can never route to it, whatever the spelling of the path.
    /// </summary>
    [Range(0, 65535, ErrorMessage = "Management:Port must be between 0 and 65535.")]
    public int Port { get; set; } = DefaultPort;

    /// <summary>
    /// Where the management listener binds: an IP address, <c>localhost</c> or <c>*</c> (every
    /// interface). Unset, it follows the public endpoints: loopback when every one of them is a
    /// loopback address (<c>dotnet run</c>, the demo), so /metrics and the health details are not
    /// offered to the network the public port is hidden from; every interface otherwise (the
    /// container, where the kubelet and Prometheus reach it on the pod address).
    /// </summary>
    public string? Host { get; set; }

    /// <summary>Ports the public endpoints are configured on; set from the server's settings, not bound.</summary>
    internal IReadOnlyCollection<int> PublicPorts { get; set; } = [];
}

[OptionsValidator]
internal sealed partial class ManagementOptionsValidator : IValidateOptions<ManagementOptions>;

/// <summary>Management:Host is something Kestrel can bind.</summary>
internal sealed class ManagementHostCheck : IValidateOptions<ManagementOptions>
{
    public ValidateOptionsResult Validate(string? name, ManagementOptions options) =>
        ManagementListener.IsValidHost(options.Host)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Management:Host '{options.Host}' must be an IP address, localhost or * (every interface).");
}

/// <summary>A management port shared with a public endpoint would serve both on one listener.</summary>
internal sealed class ManagementPortClash : IValidateOptions<ManagementOptions>
{
    public ValidateOptionsResult Validate(string? name, ManagementOptions options) =>
        options.Port != 0 && options.PublicPorts.Contains(options.Port)
            ? ValidateOptionsResult.Fail($"Management:Port {options.Port} is also a public port; the management endpoint needs a port of its own.")
            : ValidateOptionsResult.Success;
}
