using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace EnergyWs.Kafka;

internal sealed class KafkaOptions
{
    public const string Section = "Kafka";
    public const string DefaultTopic = "homelab.energy";
    public const string DefaultGroupId = "energy-ws";

    /// <summary>host:port[,host:port…] of the Kafka or Redpanda brokers.</summary>
    [Required(AllowEmptyStrings = false, ErrorMessage = "Kafka:BootstrapServers is required (host:port of a Kafka or Redpanda broker).")]
    [RegularExpression(@"^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$", ErrorMessage = "Kafka:BootstrapServers must be host:port[,host:port…].")]
    public string? BootstrapServers { get; set; }

    [Required(AllowEmptyStrings = false, ErrorMessage = "Kafka:Topic is required.")]
    [RegularExpression(@"^[a-zA-Z0-9._-]{1,249}$", ErrorMessage = "Kafka:Topic must be 1-249 characters of letters, digits, '.', '_' or '-'.")]
    public string Topic { get; set; } = DefaultTopic;

    /// <summary>
    /// The group positions are committed under, so Kafka tools show this service's lag. The group
    /// never assigns partitions: every replica reads every partition itself.
    /// </summary>
    [Required(AllowEmptyStrings = false, ErrorMessage = "Kafka:GroupId is required.")]
    public string GroupId { get; set; } = DefaultGroupId;

    /// <summary>Any librdkafka consumer property (e.g. Kafka__Consumer__fetch.wait.max.ms=10), applied over our defaults.</summary>
    public Dictionary<string, string> Consumer { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How often the topic's partition list is re-read, so partitions added later are consumed.</summary>
    [TimeSpanRange("00:00:01", "01:00:00", ErrorMessage = "Kafka:PartitionRefreshInterval must be between 00:00:01 and 01:00:00.")]
    public TimeSpan PartitionRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the broker is asked for the partitions' high watermarks (lag, readiness).</summary>
    [TimeSpanRange("00:00:00.050", "00:10:00", ErrorMessage = "Kafka:ProbeInterval must be between 00:00:00.05 and 00:10:00.")]
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Records per partition read back from below the high watermark at start (history rebuild); 0
    /// starts at the live end. Unset: as many as the history holds (History:MaxReadings, resolved by
    /// AddHistory); with no history registered, none.
    /// </summary>
    [Range(0, long.MaxValue, ErrorMessage = "Kafka:ReplayRecords must not be negative.")]
    public long? ReplayRecords { get; set; }
}

[OptionsValidator]
internal sealed partial class KafkaOptionsValidator : IValidateOptions<KafkaOptions>;
