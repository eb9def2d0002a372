namespace EnergyWs.Readings;

/// <summary>
/// What the pipeline needs of a decoder: the seam between taking records off the consumer thread
/// and making readings of them (<see cref="RecordDecoder"/> in the app).
/// </summary>
internal interface IRecordDecoder
{
    /// <summary>Adds the record's readings to <paramref name="output"/>, or says why it has none; called from one thread.</summary>
    DecodeResult Decode(in KafkaRecord record, ICollection<Reading> output);
}
