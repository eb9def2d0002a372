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
        if (ViaEndpoints && port is >= 0 and <= 65535)
        {
            kestrel.ListenAnyIP(port, listen => _endpoint = listen);
        }
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

        addresses.Add($"http://*:{options.Value.Port}");
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
            // and a wildcard address is bound (and listed) once.
            port = bound.LastOrDefault() is { } last && Uri.TryCreate(last, UriKind.Absolute, out var uri)
                && (uri.Host is "[::]" or "0.0.0.0") ? uri.Port : -1;
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

    /// <summary>Fixed ports the public endpoints are configured on, for the clash check; what does not parse is Kestrel's to report.</summary>
    internal static IReadOnlyCollection<int> PublicPorts(IConfiguration configuration)
    {
        var endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(endpoint => endpoint["Url"] ?? "").ToList();
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
