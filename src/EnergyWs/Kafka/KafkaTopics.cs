namespace EnergyWs.Kafka;

/// <summary>
/// The topics the one consumer reads, every partition of each. Today the single
/// <see cref="KafkaOptions.Topic"/>; each stream adds its own.
/// </summary>
internal sealed class KafkaTopics
{
    public KafkaTopics(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count == 0)
        {
            throw new ArgumentException("At least one topic is read.", nameof(names));
        }

        Names = [.. names.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Distinct, in the order configured.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>"a" or "a, b": how logs and readiness name them.</summary>
    public override string ToString() => string.Join(", ", Names);
}

/// <summary>One partition of one topic: the consumer's key for everything it tracks per partition.</summary>
/// <remarks>A value type, so looking up a record's partition allocates nothing.</remarks>
internal readonly record struct PartitionKey(string Topic, int Partition)
{
    public override string ToString() => $"{Topic}[{Partition}]";
}
