using EnergyWs.Readings;
using EnergyWs.Streaming;

namespace EnergyWs.Protocol;

/// <summary>What a connection asks of the protocol its route speaks.</summary>
internal interface IControlProtocol
{
    /// <summary>Handles a text or binary message from the client; called by the connection's reader, one at a time.</summary>
    ValueTask HandleAsync(ClientConnection connection, ReadOnlyMemory<byte> message);

    /// <summary>Called by the sweeper for a connection it leaves open (token expiry notices).</summary>
    void Sweep(ClientConnection connection, DateTimeOffset utcNow);

    /// <summary>This client's bytes for a reading frame. On the writer's hot path: must not allocate per call.</summary>
    ReadOnlyMemory<byte> Format(ReadingFrame frame);
}
