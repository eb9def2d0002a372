using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace EnergyWs.Management;

/// <summary>
/// The management listener: one more Kestrel endpoint, added the way Kestrel is told where to
/// listen, so <c>urls</c>, <c>http_ports</c>/<c>https_ports</c> and <c>Kestrel:Endpoints</c> (HTTPS
/// included) keep working. Kestrel binds either its endpoints (configured or in code) or the
/// addresses, never both: with <c>Kestrel:Endpoints</c> the listener is an endpoint in code,
/// otherwise it is one more address.
/// </summary>
/// <remarks>
/// Reads the server's own settings (<c>urls</c>, ports, <c>Kestrel:Endpoints</c>) because it has to
/// reproduce the choice Kestrel makes from them; nothing else here reads configuration.
/// </remarks>
internal sealed class ManagementListener(IServiceProvider services, IConfiguration configuration, IOptions<ManagementOptions> options)
    : IHostedLifecycleService
{
    /// <summary>What Kestrel listens on when nothing says otherwise.</summary>
    private const string KestrelDefaultAddress = "http://localhost:5000";

    /// <summary>Management:Host for every interface.</summary>
    internal const string AnyHost = "*";

    private const string Localhost = "localhost";

    private ListenOptions? _endpoint;

    // -1 until the server has started. Options are not read before then: the server is built with
    // the app, ahead of the startup check that reports a bad setting in one line.
    private volatile int _port = -1;

    /// <summary>The bound management port; -1 before the server has started.</summary>
    public int Port => _port;

    /// <summary>Whether the request came in on the management listener.</summary>
    public bool Serves(HttpContext context) => context.Connection.LocalPort == _port;

    /// <summary>Whether <paramref name="address"/>, one of the server's bound addresses, is the management listener's.</summary>
    public bool IsManagementAddress(string address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Port == _port;

    private bool ViaEndpoints => configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();

    /// <summary>With configured endpoints, the management listener is one more, in code.</summary>
    public void Configure(KestrelServerOptions kestrel)
    {
        // From configuration, not the options (see _port); a value out of range fails validation at start.
        var setting = configuration[$"{ManagementOptions.Section}:{nameof(ManagementOptions.Port)}"];
        var port = setting is null ? ManagementOptions.DefaultPort : int.TryParse(setting, out var parsed) ? parsed : -1;
        var hostSetting = configuration[$"{ManagementOptions.Section}:{nameof(ManagementOptions.Host)}"];
        if (!ViaEndpoints || port is < 0 or > 65535 || !IsValidHost(hostSetting))
        {
            return;
        }

        var host = ResolveHost(hostSetting, EndpointUrls(configuration));
        if (host == AnyHost)
        {
            kestrel.ListenAnyIP(port, listen => _endpoint = listen);
        }
        else if (string.Equals(host, Localhost, StringComparison.OrdinalIgnoreCase))
        {
            // Kestrel binds localhost to a fixed port only.
            if (port == 0)
            {
                kestrel.Listen(IPAddress.Loopback, 0, listen => _endpoint = listen);
            }
            else
            {
                kestrel.ListenLocalhost(port, listen => _endpoint = listen);
            }
        }
        else
        {
            kestrel.Listen(IPAddress.Parse(host), port, listen => _endpoint = listen);
        }
    }

    /// <summary>Management:Host is unset, an IP address, localhost or *.</summary>
    internal static bool IsValidHost(string? host) =>
        string.IsNullOrWhiteSpace(host) || host.Trim() == AnyHost
        || string.Equals(host.Trim(), Localhost, StringComparison.OrdinalIgnoreCase)
        || IPAddress.TryParse(host.Trim(), out _);

    /// <summary>
    /// The host the listener binds: Management:Host when set; else loopback when every public
    /// address is a loopback one (nothing on the network can reach the public port, so nothing
    /// there should reach the management port either), else every interface.
    /// </summary>
    internal static string ResolveHost(string? setting, IEnumerable<string> publicAddresses)
    {
        if (!string.IsNullOrWhiteSpace(setting))
        {
            return setting.Trim();
        }

        var any = false;
        foreach (var address in publicAddresses)
        {
            // Kestrel's wildcards (*, +) do not parse as a Uri, 0.0.0.0 and [::] are not loopback.
            if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || !uri.IsLoopback)
            {
                return AnyHost;
            }

            any = true;
        }

        return any ? Localhost : AnyHost;
    }

    /// <summary>The address Kestrel is handed for the listener on <paramref name="host"/>.</summary>
    internal static string Address(string host, int port)
    {
        if (string.Equals(host, Localhost, StringComparison.OrdinalIgnoreCase))
        {
            // Kestrel binds localhost to a fixed port only; a dynamic one goes to IPv4's loopback.
            return port == 0 ? "http://127.0.0.1:0" : $"http://localhost:{port}";
        }

        return host != AnyHost && IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6
            ? $"http://[{ip}]:{port}"
            : $"http://{host}:{port}";
    }

    /// <summary>
    /// Without configured endpoints, Kestrel binds the addresses the host hands it, which the host
    /// fills from <c>urls</c> or the ports only when nothing else did: fill them the same way, plus
    /// the management address, last.
    /// </summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        if (ViaEndpoints)
        {
            return Task.CompletedTask;
        }

        var addresses = Addresses();
        if (addresses.Count == 0)
        {
            foreach (var address in PublicAddresses(configuration))
            {
                addresses.Add(address);
            }
        }

        addresses.Add(Address(ResolveHost(options.Value.Host, addresses), options.Value.Port));
        return Task.CompletedTask;
    }

    /// <summary>Learns a dynamic port, and makes sure the listener is there: a start without it fails.</summary>
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var bound = Addresses();
        int port;
        if (_endpoint is not null)
        {
            port = _endpoint.IPEndPoint?.Port ?? -1;
        }
        else if (options.Value.Port != 0)
        {
            port = options.Value.Port;
        }
        else
        {
            // Kestrel binds addresses in order and lists each as it is bound; ours was added last,
            // and a dynamic port is never localhost (see Address), so it is bound (and listed) once.
            port = bound.LastOrDefault() is { } last && Uri.TryCreate(last, UriKind.Absolute, out var uri) ? uri.Port : -1;
        }

        if (port <= 0 || !bound.Any(address => Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Port == port))
        {
            throw new InvalidOperationException(
                $"Management:Port {options.Value.Port} is not among the addresses Kestrel bound ({string.Join(", ", bound)}); an endpoint configured in code replaces urls and the ports.");
        }

        _port = port;
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private ICollection<string> Addresses() =>
        services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("The server does not expose its addresses; the management listener needs Kestrel.");

    /// <summary>Where the public endpoints listen, by Kestrel's precedence: <c>urls</c>, else the ports, else its default.</summary>
    internal static IEnumerable<string> PublicAddresses(IConfiguration configuration)
    {
        static string[] List(string? value) => (value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        var urls = List(configuration["urls"]);
        if (urls.Length > 0)
        {
            return urls;
        }

        // As the host turns them into addresses.
        var ports = List(configuration["http_ports"]).Select(port => $"http://*:{port}")
            .Concat(List(configuration["https_ports"]).Select(port => $"https://*:{port}"))
            .ToList();
        return ports.Count > 0 ? ports : [KestrelDefaultAddress];
    }

    /// <summary>The URLs of the endpoints in <c>Kestrel:Endpoints</c>.</summary>
    private static List<string> EndpointUrls(IConfiguration configuration) =>
        configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(endpoint => endpoint["Url"] ?? "").ToList();

    /// <summary>Fixed ports the public endpoints are configured on, for the clash check; what does not parse is Kestrel's to report.</summary>
    internal static IReadOnlyCollection<int> PublicPorts(IConfiguration configuration)
    {
        var endpoints = EndpointUrls(configuration);
        var addresses = endpoints.Count > 0 ? endpoints : PublicAddresses(configuration);
        var ports = new HashSet<int>();
        foreach (var address in addresses)
        {
            // Uri does not take Kestrel's wildcard hosts.
            var normalized = address?.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
            if (Uri.TryCreate(normalized, UriKind.Absolute, out var uri) && uri.Port > 0)
            {
                ports.Add(uri.Port);
            }
        }

        return ports;
    }
}
