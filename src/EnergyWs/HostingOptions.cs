using System.Net;
using Microsoft.Extensions.Options;

namespace EnergyWs;

/// <summary>Which peers may say where a request came from (X-Forwarded-For).</summary>
internal sealed class HostingOptions
{
    public const string Section = "Hosting";

    /// <summary>The switch ASP.NET Core reads (ASPNETCORE_FORWARDEDHEADERS_ENABLED).</summary>
    public const string ForwardedHeadersSetting = "ForwardedHeaders_Enabled";

    /// <summary>Addresses of reverse proxies whose X-Forwarded-For is believed, e.g. 10.42.0.15.</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Networks (CIDR) whose X-Forwarded-For is believed, e.g. 10.42.0.0/16 for a cluster's pod network.</summary>
    public string[] KnownNetworks { get; set; } = [];

    /// <summary>Whether forwarded headers are applied; set from <see cref="ForwardedHeadersSetting"/>, not bound.</summary>
    internal bool ForwardedHeadersEnabled { get; set; }
}

/// <summary>
/// Every entry must parse, and with forwarded headers on at least one proxy or network must be
/// named: ASP.NET Core's switch alone believes the header from any peer, so any client could pick
/// its own address and step past the per-IP limits; believing it from no one would put every
/// client behind the proxy into one per-IP bucket.
/// </summary>
internal sealed class HostingOptionsValidator : IValidateOptions<HostingOptions>
{
    public ValidateOptionsResult Validate(string? name, HostingOptions options)
    {
        var failures = new List<string>();
        for (var i = 0; i < options.KnownProxies.Length; i++)
        {
            if (!IPAddress.TryParse(options.KnownProxies[i], out _))
            {
                failures.Add($"Hosting:KnownProxies:{i} '{options.KnownProxies[i]}' is not an IP address.");
            }
        }

        for (var i = 0; i < options.KnownNetworks.Length; i++)
        {
            if (!IPNetwork.TryParse(options.KnownNetworks[i], out _))
            {
                failures.Add($"Hosting:KnownNetworks:{i} '{options.KnownNetworks[i]}' is not a network in CIDR notation (e.g. 10.42.0.0/16).");
            }
        }

        if (options.ForwardedHeadersEnabled && options.KnownProxies.Length == 0 && options.KnownNetworks.Length == 0)
        {
            failures.Add("Hosting:KnownProxies or Hosting:KnownNetworks must name the reverse proxy when forwarded headers are enabled (ASPNETCORE_FORWARDEDHEADERS_ENABLED).");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
