using EnergyWs.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnergyWs.Streaming;

internal static class StreamingExtensions
{
    public static IHostApplicationBuilder AddStreaming(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<StreamingOptions>()
            .Bind(builder.Configuration.GetSection(StreamingOptions.Section));
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<StreamingOptions>, StreamingOptionsValidator>();
        builder.Services.AddSingleton<Broadcaster>();
        builder.Services.AddSingleton<StreamingMetrics>();
        builder.Services.AddSingleton<WebSocketEndpoint>();
        builder.Services.AddSingleton<ConnectionsPerUser>();
        builder.Services.AddSingleton<ConnectionSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConnectionSweeper>());
        builder.Services.AddHostedService<ConnectionCountLogger>();
        builder.Services.AddConnectRateLimit();
        // Bound here, not resolved from IOptions in the callback below: that would validate the
        // options ahead of the startup check that reports a bad setting in one line. Options that
        // do not bind or validate stop startup anyway; until then they count as the default (on).
        var directSocketWrites = RegistrationOptions.Validated(
            () => builder.Configuration.GetSection(StreamingOptions.Section).Get<StreamingOptions>(),
            new StreamingOptionsValidator())?.DirectSocketWrites ?? true;
        builder.Services.AddOptions<SocketTransportOptions>().Configure<IOptions<StreamingOptions>>((transport, streaming) =>
        {
            if (directSocketWrites && !ServesHttps(builder.Configuration))
            {
                // A flush waits until the transport has sent what it buffered. WebSocket writers
                // send on the socket itself (WebSocketTransport): Kestrel's 101 response, flushed by
                // the upgrade, must be on the socket before their first byte. Other responses lose
                // only the overlap of one buffered write with the next. Writes that must go through
                // Kestrel (TLS terminated by Kestrel) would pay a wait per write, so with an HTTPS
                // endpoint every write goes through Kestrel and the buffer keeps its default.
                transport.MaxWriteBufferSize = 2;
            }

            // Read at bind time, after the options were validated: a bad setting must fail as one line, not here.
            transport.CreateBoundListenSocket = endpoint =>
            {
                var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
                if (streaming.Value.SocketSendBufferBytes is var sendBuffer and > 0)
                {
                    socket.SendBufferSize = sendBuffer;
                }

                return socket;
            };
        });
        return builder;
    }

    /// <summary>WebSocket support with the transport our writers batch into (replaces UseWebSockets).</summary>
    public static IApplicationBuilder UseStreaming(this IApplicationBuilder app)
    {
        // Before UseWebSockets: it captures the upgrade features when a request arrives.
        WebSocketTransport.Use(app);
        return app.UseWebSockets();
    }

    public static IEndpointConventionBuilder MapStreaming(this IEndpointRouteBuilder endpoints)
    {
        // The original service's protocol, for its existing clients (docs/protocol.md, "Compatibility route /ws/energy").
        endpoints.Map("/ws/energy", context => context.RequestServices.GetRequiredService<WebSocketEndpoint>().HandleAsync(context, StreamProtocol.EnergyCompat))
            .WithName("ws-energy")
            .RequireRateLimiting(ConnectRateLimit.Policy);
        return endpoints.Map("/ws", context => context.RequestServices.GetRequiredService<WebSocketEndpoint>().HandleAsync(context))
            .WithName("ws")
            .RequireRateLimiting(ConnectRateLimit.Policy);
    }

    /// <summary>
    /// Whether Kestrel will serve HTTPS, by the precedence Kestrel applies to configuration:
    /// <c>Kestrel:Endpoints</c> replace <c>urls</c>, which replace <c>http_ports</c>/<c>https_ports</c>.
    /// </summary>
    internal static bool ServesHttps(IConfiguration configuration)
    {
        static bool IsHttps(string? url) => url?.TrimStart().StartsWith("https://", StringComparison.OrdinalIgnoreCase) == true;

        var endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().ToList();
        if (endpoints.Count > 0)
        {
            return endpoints.Exists(endpoint => IsHttps(endpoint["Url"]));
        }

        if (configuration["urls"] is { Length: > 0 } urls)
        {
            return urls.Split(';').Any(IsHttps);
        }

        return !string.IsNullOrWhiteSpace(configuration["https_ports"]);
    }
}
