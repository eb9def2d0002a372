using EnergyWs.Kafka;
using EnergyWs.Management;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EnergyWs.Tests.Infrastructure;

/// <summary>
/// The real service on real Kestrel at 127.0.0.1, port 0, consuming a test topic.
/// </summary>
internal sealed class EnergyWsApp : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    public EnergyWsApp(string bootstrapServers, string topic, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Kafka:BootstrapServers"] = bootstrapServers,
            ["Kafka:Topic"] = topic,
            ["Kafka:GroupId"] = "energy-ws-test",
            ["Kafka:ProbeInterval"] = "00:00:00.250",
            ["Kafka:Consumer:enable.auto.commit"] = "false",
            ["Demo:Enabled"] = "false",
            ["Auth:Enabled"] = "false",
            // As a user configures it, so the management listener is added the way it is in production.
            ["urls"] = "http://127.0.0.1:0",
            ["Management:Port"] = "0",
            // Tests open many connections and requests from 127.0.0.1; the per-client limits have tests of their own.
            ["Streaming:ConnectAttemptsPerMinute"] = "0",
            ["Streaming:MaxConnectionsPerUser"] = "0",
            ["Streaming:ApiRequestsPerMinute"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
            // Many servers share this process's heap: one would pause all the others to compact it.
            ["Memory:CompactAfterStart"] = "false",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        _services = services;
        UseKestrel();
    }

    /// <summary>The plain HTTP address of the endpoint the tests listen on.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Every public address the server listens on (also endpoints configured in settings).</summary>
    public IReadOnlyList<Uri> Addresses { get; private set; } = [];

    /// <summary>The management listener (/metrics, detailed health), on its dynamic port.</summary>
    public Uri ManagementAddress { get; private set; } = null!;

    public Uri WebSocketUri(string pathAndQuery = "/ws") =>
        new(new UriBuilder(BaseAddress) { Scheme = "ws" }.Uri, pathAndQuery);

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Starts the server and waits until the consumer holds its partitions.</summary>
    public Task<EnergyWsApp> StartAsync(CancellationToken cancellationToken = default) => StartAsync(waitForAssignment: true, cancellationToken);

    /// <summary>Starts the server; waits until the consumer holds a partition unless told not to (a broker that is down or slow).</summary>
    public async Task<EnergyWsApp> StartAsync(bool waitForAssignment, CancellationToken cancellationToken)
    {
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
        var management = Get<ManagementListener>().Port;
        ManagementAddress = new Uri($"http://127.0.0.1:{management}");
        Addresses = [.. addresses.Addresses.Select(address => new Uri(address)).Where(address => address.Port != management)];
        BaseAddress = Addresses.FirstOrDefault(address => address.Scheme == Uri.UriSchemeHttp) ?? Addresses[0];
        if (waitForAssignment)
        {
            await Eventually.TrueAsync(() => Get<ConsumerState>().Assigned, "the consumer is assigned", cancellationToken);
        }

        return this;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (_services is not null)
        {
            builder.ConfigureServices(_services);
        }
    }
}
