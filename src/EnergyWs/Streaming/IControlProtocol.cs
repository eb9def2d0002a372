using EnergyWs.Readings;

namespace EnergyWs.Streaming;

/// <summary>What a connection asks of the protocol its route speaks.</summary>
/// <remarks>
/// The connection's seam: the connection, its reader and its writer know only this; the protocols
/// (Streaming/Protocol) implement it and the endpoint picks one per route.
/// </remarks>
internal interface IControlProtocol
{
    /// <summary>Handles a text or binary message from the client; called by the connection's reader, one at a time.</summary>
    ValueTask HandleAsync(ClientConnection connection, ReadOnlyMemory<byte> message);

    /// <summary>Called by the sweeper for a connection it leaves open (token expiry notices).</summary>
    void Sweep(ClientConnection connection, DateTimeOffset utcNow);

    /// <summary>This client's bytes for a reading frame. On the writer's hot path: must not allocate per call.</summary>
    ReadOnlyMemory<byte> Format(ReadingFrame frame);
}
