using Confluent.Kafka;

namespace EnergyWs.Readings;

/// <summary>What the decoder gets of one Kafka record. Key and value are the broker's bytes.</summary>
internal readonly record struct KafkaRecord(
    string Topic,
    int Partition,
    long Offset,
    byte[]? Key,
    byte[]? Value,
    Headers? Headers,
    DateTimeOffset? Timestamp);
