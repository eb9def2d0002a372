using System.Net.WebSockets;

namespace EnergyWs.Streaming;

/// <summary>
/// Why a connection ends: the close status and text the client sees, and the word that labels
/// <c>energyws_clients_closed_total</c>.
/// </summary>
internal readonly record struct CloseReason(WebSocketCloseStatus Status, string Description, string Metric)
{
    public static CloseReason ClientClosed { get; } = new(WebSocketCloseStatus.NormalClosure, "", "client_closed");

    public static CloseReason TooSlow { get; } = new(WebSocketCloseStatus.PolicyViolation, "too slow", "slow");

    public static CloseReason MessageTooBig { get; } = new(WebSocketCloseStatus.MessageTooBig, "message too big", "message_too_big");

    public static CloseReason ShuttingDown { get; } = new(WebSocketCloseStatus.EndpointUnavailable, "server shutting down", "shutdown");

    /// <summary>4401: the token expired; the client should fetch a new one before reconnecting.</summary>
    public static CloseReason TokenExpired { get; } = new((WebSocketCloseStatus)4401, "token expired", "token_expired");

    public static CloseReason RateLimited { get; } = new(WebSocketCloseStatus.PolicyViolation, "rate limited", "rate_limited");

    /// <summary>1011: the server failed handling the client's message (a bug, logged); the client may reconnect.</summary>
    public static CloseReason ServerError { get; } = new(WebSocketCloseStatus.InternalServerError, "server error", "server_error");

    /// <summary>Not sent: the connection broke (reset, failed send, missed pong).</summary>
    public static CloseReason ConnectionLost { get; } = new(WebSocketCloseStatus.Empty, "", "connection_lost");
}
