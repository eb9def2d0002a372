using EnergyWs.Streaming.Protocol;
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
        builder.Services.AddSingleton<StatusNotices>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StatusNotices>());
        builder.Services.AddConnectRateLimit();
        // Bound here, not resolved from IOptions in the callback below: that would validate the
        // options ahead of the startup check that reports a bad setting in one line. Options that
        // do not bind or validate stop startup anyway; until then they count as the default (on).
        var directSocketWrites = RegistrationOptions.Validated(
            () => builder.Configuration.GetSection(StreamingOptions.Section).Get<StreamingOptions>(),
            new StreamingOptionsValidator())?.DirectSocketWrites ?? true;
        builder.Services.AddOptions<SocketTransportOptions>().Configure<IOptions<StreamingOptions>>((transport, streaming) =>
        {
            DirectSocketWrites.ConfigureTransport(transport, directSocketWrites, builder.Configuration);

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
}
