using EnergyWs.Readings;

namespace EnergyWs.Kafka;

/// <summary>
/// Takes each frame on the consumer thread after the history holds it and before any client is
/// sent it, for live and rebuilt records alike; every registered sink is called, in registration order.
/// </summary>
/// <remarks>
/// Runs on the single consumer thread: a sink that blocks holds the consumer (and the commit of the
/// record's offset) with it; one that throws costs the record its broadcast, counted as a publish error.
/// </remarks>
internal interface IReadingSink
{
    /// <summary>Called once per frame, in sequence order.</summary>
    /// <param name="live">False for a record read back at start to rebuild the history (not broadcast).</param>
    void Accept(ReadingFrame frame, bool live);
}
