using System.Net.WebSockets;
using EnergyWs.Auth;
using EnergyWs.History;
using EnergyWs.Readings;
using EnergyWs.Streaming.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
    ReplayBudget replayBudget,
    IOptions<AuthOptions> authOptions,
    StreamCatalog catalog,
    StatusNotices statusNotices,
    StreamAccess access,
    ILogger<WebSocketEndpoint> logger)
{
    /// <summary>Bounds on what a client may put in the query string (see <see cref="ClientSelection"/>).</summary>
    internal const int MaxFilterValues = ClientSelection.MaxFilterValues;
    internal const int MaxFilterLength = ClientSelection.MaxFilterLength;

    /// <summary>?notices=1: the client reads control messages it did not ask for (token_expiring, status).</summary>
    internal const string NoticesParameter = "notices";

    private readonly StreamingOptions _options = options.Value;

    // One for all connections of this endpoint (a singleton, so of the process).
    private readonly LogThrottle _readerFailures = new(time, LogThrottle.DefaultInterval);

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
            await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "server shutting down", "rejected_shutdown");
            return;
        }

        if (!ClientSelection.TryParse(context.Request.Query, catalog, out var selection, out var named, out var error))
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: error).ExecuteAsync(context);
            return;
        }

        // Before the upgrade, as a 401 is: a stream this token may not read is refused with the scope it lacks.
        var readable = access.Readable(context);
        if ((selection.Streams & ~readable) != 0)
        {
            metrics.Rejected("rejected_scope");
            await access.ForbidAsync(context, selection.Streams, readable);
            return;
        }

        if (!ReplayRequest.TryParse(context.Request.Query, time.GetUtcNow(), historyOptions.Value.Window, out var replay, out error))
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: error).ExecuteAsync(context);
            return;
        }

        var remote = ClientAddress.Format(context.Connection);
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

        // A replay's frames stay in memory until its writer has sent them: the budget bounds them
        // across all clients. A client over it waits here, before the upgrade, holding nothing.
        using var lease = await AcquireReplayAsync(context, replay);
        if (lease is null)
        {
            return;
        }

        // The client's stream starts here, before the 101 is sent: every reading published once the
        // client sees its handshake complete reaches it (one that connects, then makes its meter
        // report, gets that report). The snapshot is taken once the client is registered from this
        // index, and the connection sends each frame once, from the replay or from the stream.
        var from = broadcaster.Head;
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
        var session = context.Features.Get<TokenSession>();
        // /ws/energy speaks the original protocol, which has no notices.
        var notices = protocol == StreamProtocol.Readings && WantsNotices(context.Request.Query);
        var token = session is not null && context.RequestServices.GetService<TokenRevalidator>() is { } revalidator
            ? new ConnectionToken(revalidator, session, notices, authOptions.Value.RefreshNotice, context.Connection.RemoteIpAddress, context.RequestAborted)
            : null;
        var control = ControlProtocol.Create(protocol, selection, catalog, time, logger, new ControlMessageLimit(_options.ControlMessagesPerSecond, _options.ControlMessageBurst), token, named);
        var connection = new ClientConnection(socket, transport, selection, remote, _options, metrics, time, logger, control, _readerFailures)
        {
            // Set by authentication: the sweeper closes the connection with 4401 once the token
            // expires, unless an in-band refresh moved it.
            ExpiresAt = session?.ClosesAt,
            Notices = notices,
            Readable = readable,
        };
        if (!broadcaster.TryAdd(connection, _options.MaxConnections, from, out _))
        {
            // Lost the race for the last slot after the upgrade: say so in the close frame.
            metrics.Rejected("rejected_limit");
            await socket.CloseAsync(WebSocketCloseStatus.InternalServerError, "connection limit reached", CancellationToken.None);
            return;
        }

        if (notices)
        {
            // After registering, so a change from here on reaches it too (at worst twice).
            statusNotices.SendCurrent(connection);
        }

        // Not inlined: a local of this method would keep the snapshot for the whole connection.
        StartReplay(history, connection, selection, replay, lease, historyOptions.Value.ReplayTimeout);

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

    /// <summary>
    /// Takes the client's snapshot and hands it to the connection, which lets go of it once written.
    /// Call after the connection is registered with the broadcaster and before it runs.
    /// </summary>
    internal static void StartReplay(ReadingHistory history, ClientConnection connection, ClientSelection selection, ReplayRequest replay, ReplayBudget.Lease? lease, TimeSpan? timeout = null)
    {
        var max = lease?.Frames ?? int.MaxValue;
        var snapshot = replay.After is { } after
            ? history.Query(selection, after, until: null, max)
            : history.Latest(selection, max);
        lease?.Keep(snapshot.Frames.Count);
        connection.Writer.SetReplay(snapshot.Frames, lease, timeout);
    }

    /// <summary>
    /// The replay's share of the budget: the frames the history holds in the asked range now plus
    /// headroom for what arrives during the handshake (a snapshot never takes more than its share;
    /// beyond it the oldest are left out). A history replay also waits for the same principal's
    /// replay in flight, if any. Null once the client was refused (the wait ran out: 503, or 429
    /// for the principal's own replay) or went away.
    /// </summary>
    private async Task<ReplayBudget.Lease?> AcquireReplayAsync(HttpContext context, ReplayRequest replay)
    {
        // Latest values: a new device or two during a handshake; bounded by MeterLimits.MaxMeters, so not
        // bound per principal. History: a burst of readings on top of what is in range; once the
        // history is full it holds MaxReadings and the headroom does not apply.
        var wanted = replay.After is not { } after
            ? Math.Min(history.LatestCount + 64, MeterLimits.MaxMeters)
            : (int)Math.Min(history.CountInRange(after, until: null) + 1024L, history.MaxReadings);
        var principal = replay.After is null ? null : ConnectionsPerUser.KeyOf(context);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        ReplayBudget.Grant grant;
        try
        {
            grant = await replayBudget.AcquireAsync(principal, wanted, cancel.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        if (grant.Lease is { } lease)
        {
            return lease;
        }

        if (grant.PrincipalBusy)
        {
            Log.ReplayPerUserBusy(logger, replayBudget.WaitTimeout);
            await RefuseAsync(context, StatusCodes.Status429TooManyRequests, "a replay for this client is already running", "rejected_user_limit");
            return null;
        }

        Log.ReplayBudgetExhausted(logger, replayBudget.Capacity, replayBudget.WaitTimeout);
        await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "replay capacity busy", "rejected_replay_busy");
        return null;
    }

    private async Task RefuseAsync(HttpContext context, int status, string detail, string metric)
    {
        metrics.Rejected(metric);
        context.Response.Headers.RetryAfter = "5";
        await Results.Problem(statusCode: status, detail: detail).ExecuteAsync(context);
    }

    /// <summary>
    /// Clients that only read readings (the plain snippet) must never see anything else, so notices
    /// are sent only to clients that ask for them.
    /// </summary>
    private static bool WantsNotices(IQueryCollection query) =>
        query[NoticesParameter].ToString() is "1" or "true";
}
