using System.Net.WebSockets;
using EnergyWs.Auth;
using EnergyWs.History;
using EnergyWs.Protocol;
using EnergyWs.Readings;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace EnergyWs.Streaming;

/// <summary>The /ws endpoint: validates the request, upgrades, and runs the connection.</summary>
internal sealed class WebSocketEndpoint(
    Broadcaster broadcaster,
    IOptions<StreamingOptions> options,
    StreamingMetrics metrics,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ReadingHistory history,
    IOptions<HistoryOptions> historyOptions,
    ILogger<WebSocketEndpoint> logger)
{
    /// <summary>Bounds on what a client may put in the query string.</summary>
    internal const int MaxFilterValues = 64;
    internal const int MaxFilterLength = 128;

    private readonly StreamingOptions _options = options.Value;

    public Task HandleAsync(HttpContext context) => HandleAsync(context, StreamProtocol.Readings);

    public async Task HandleAsync(HttpContext context, StreamProtocol protocol)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "This endpoint speaks WebSocket only: send an upgrade request.")
                .ExecuteAsync(context);
            return;
        }

        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "server shutting down", "rejected_limit");
            return;
        }

        if (!TryParseSelection(context.Request.Query, out var selection, out var error))
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: error).ExecuteAsync(context);
            return;
        }

        if (!ReplayRequest.TryParse(context.Request.Query, time.GetUtcNow(), historyOptions.Value.Window, out var replay, out error))
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: error).ExecuteAsync(context);
            return;
        }

        var remote = $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";
        if (broadcaster.Count >= _options.MaxConnections)
        {
            Log.ConnectionLimitReached(logger, _options.MaxConnections, remote);
            await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "connection limit reached", "rejected_limit");
            return;
        }

        // Held until the connection ends: every way out of this method gives the slot back, once.
        using var userSlot = context.RequestServices.GetRequiredService<ConnectionsPerUser>().TryAcquire(context);
        if (userSlot is null)
        {
            Log.UserConnectionLimitReached(logger, _options.MaxConnectionsPerUser, remote);
            await RefuseAsync(context, StatusCodes.Status429TooManyRequests, "too many connections for this client", "rejected_user_limit");
            return;
        }

        // The client's stream starts here, before the 101 is sent: every reading published once the
        // client sees its handshake complete reaches it (one that connects, then makes its meter
        // report, gets that report). Start first, snapshot second: every frame after the snapshot
        // comes from the ring, every frame up to it is in the snapshot (history appends before the
        // broadcaster publishes), and the writer skips ring frames the snapshot covered. No gap, no
        // duplicate at the seam.
        var from = broadcaster.Head;
        var snapshot = Snapshot(selection, replay);

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            // Browsers cannot set headers on a WebSocket, so they send the token as the subprotocol
            // pair ["bearer", token]; a browser that offered subprotocols fails the handshake unless
            // one is selected, so "bearer" is answered whether or not authentication is on.
            SubProtocol = BearerToken.AnswerSubProtocol(context),
            KeepAliveInterval = _options.PingInterval,
            KeepAliveTimeout = _options.PongTimeout,
        });

        var transport = context.Features.Get<IWebSocketTransportFeature>()?.Transport
            ?? throw new InvalidOperationException("The WebSocket transport is missing: call UseStreaming() before the endpoints.");
        var control = ControlProtocol.Create(protocol, selection, time, logger);
        var connection = new ClientConnection(socket, transport, selection, remote, _options, metrics, time, logger)
        {
            // Set by authentication: the sweeper closes the connection with 4401 once the token expires.
            ExpiresAt = context.Features.Get<TokenExpiry>()?.At,
            OnMessage = control.HandleAsync,
            Format = control.Format,
        };
        if (!broadcaster.TryAdd(connection, _options.MaxConnections, from, out var startedAtFrom))
        {
            // Lost the race for the last slot after the upgrade: say so in the close frame.
            metrics.Rejected("rejected_limit");
            await socket.CloseAsync(WebSocketCloseStatus.InternalServerError, "connection limit reached", CancellationToken.None);
            return;
        }

        if (!startedAtFrom)
        {
            // The handshake took so long that the ring moved on by half its capacity (a connect
            // flood during a burst): the client starts now instead of lapped, with a fresh snapshot.
            snapshot = Snapshot(selection, replay);
        }

        connection.SetReplay(snapshot.Frames, snapshot.ThroughSequence);

        metrics.Accepted();
        Log.ClientConnected(logger, remote, broadcaster.Count);
        var reason = CloseReason.ConnectionLost;
        try
        {
            reason = await connection.RunAsync(lifetime.ApplicationStopping);
        }
        finally
        {
            broadcaster.Remove(connection);
            metrics.Closed(reason.Metric);
            if (reason == CloseReason.TooSlow)
            {
                Log.SlowClientClosed(logger, remote, _options.SlowClientTimeout);
            }

            if (logger.IsEnabled(LogLevel.Debug))
            {
                Log.ClientClosed(logger, remote, reason.Metric, time.GetUtcNow() - connection.ConnectedAt);
            }
        }
    }

    private HistorySnapshot Snapshot(ClientSelection selection, ReplayRequest replay) =>
        replay.After is { } after
            ? history.Query(selection, after, until: null, max: int.MaxValue)
            : history.Latest(selection);

    private async Task RefuseAsync(HttpContext context, int status, string detail, string metric)
    {
        metrics.Rejected(metric);
        context.Response.Headers.RetryAfter = "5";
        await Results.Problem(statusCode: status, detail: detail).ExecuteAsync(context);
    }

    /// <summary>?device=a&amp;device=b&amp;channel=0 — repeatable; absent means everything.</summary>
    internal static bool TryParseSelection(IQueryCollection query, out ClientSelection selection, out string? error)
    {
        selection = ClientSelection.All;
        error = null;
        if (!TryParseSet(query["device"], "device", out var devices, out error) ||
            !TryParseSet(query["channel"], "channel", out var channels, out error))
        {
            return false;
        }

        if (devices is not null || channels is not null)
        {
            selection = new ClientSelection(devices, channels);
        }

        return true;
    }

    private static bool TryParseSet(StringValues values, string name, out HashSet<string>? set, out string? error)
    {
        set = null;
        error = null;
        if (values.Count == 0)
        {
            return true;
        }

        if (values.Count > MaxFilterValues)
        {
            error = $"At most {MaxFilterValues} '{name}' values are allowed.";
            return false;
        }

        set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in values)
        {
            // Commas are accepted too: ?device=a,b
            foreach (var value in (raw ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (value.Length > MaxFilterLength)
                {
                    error = $"A '{name}' value may be at most {MaxFilterLength} characters.";
                    return false;
                }

                set.Add(value);
            }
        }

        if (set.Count > MaxFilterValues)
        {
            error = $"At most {MaxFilterValues} '{name}' values are allowed.";
            return false;
        }

        if (set.Count == 0)
        {
            set = null;
        }

        return true;
    }
}
