using EnergyWs.Kafka;
using EnergyWs.Readings;

namespace EnergyWs.Tests.Infrastructure;

/// <summary>A reading sink that runs an action for each frame, on the consumer thread (after the history, before the broadcast).</summary>
internal sealed class FrameSink(Action<ReadingFrame> accept) : IReadingSink
{
    public void Accept(ReadingFrame frame, bool live) => accept(frame);
}
