using System.Runtime.InteropServices;
using System.Text;

namespace EnergyWs.Kafka;

/// <summary>
/// librdkafka's mock cluster: a real Kafka wire-protocol broker on 127.0.0.1 inside the bundled
/// native library. It backs the embedded demo and the test suite; clients talk to it over TCP
/// exactly as to a real broker.
/// </summary>
/// <remarks>
/// Invariant: the cluster must be destroyed before the rd_kafka_t that owns it, and every client of
/// the cluster should be disposed first; destroying in the other order aborts the process inside
/// librdkafka. Disposal is therefore explicit only (no finalizer).
/// </remarks>
internal sealed partial class EmbeddedKafkaBroker : IDisposable
{
    private const int ProducerType = 0;
    private const int ErrTopicAlreadyExists = 36;

    private readonly Lock _gate = new();
    private nint _rk;
    private nint _cluster;

    public EmbeddedKafkaBroker(int brokerCount = 1)
    {
        Librdkafka.EnsureLoaded();
        BrokerCount = brokerCount;

        var conf = NativeMethods.rd_kafka_conf_new();
        var err = new byte[512];
        // Silences the mock's own "No bootstrap.servers configured" warning.
        Set(conf, "log_level", "3", err);
        _rk = NativeMethods.rd_kafka_new(ProducerType, conf, err, (nuint)err.Length);
        if (_rk == 0)
        {
            throw new InvalidOperationException("rd_kafka_new failed: " + Text(err));
        }

        _cluster = NativeMethods.rd_kafka_mock_cluster_new(_rk, brokerCount);
        if (_cluster == 0)
        {
            NativeMethods.rd_kafka_destroy(_rk);
            _rk = 0;
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed");
        }

        BootstrapServers = Marshal.PtrToStringUTF8(NativeMethods.rd_kafka_mock_cluster_bootstraps(_cluster))
            ?? throw new InvalidOperationException("the mock cluster reported no bootstrap servers");

        // Group joins wait 3 s by default; the service assigns partitions itself, but tools and
        // tests that join groups should not pay that delay.
        NativeMethods.rd_kafka_mock_group_initial_rebalance_delay_ms(_cluster, 0);
    }

    public string BootstrapServers { get; }

    public int BrokerCount { get; }

    public void CreateTopic(string topic, int partitions = 1)
    {
        var rc = NativeMethods.rd_kafka_mock_topic_create(Cluster, topic, partitions, 1);
        if (rc != 0 && rc != ErrTopicAlreadyExists)
        {
            throw new InvalidOperationException($"creating topic '{topic}' on the embedded broker failed: error {rc}");
        }
    }

    /// <summary>Deletes a topic (the mock cannot add partitions to one; tests create it again with more).</summary>
    public void DeleteTopic(string topic) => Check(NativeMethods.rd_kafka_mock_topic_delete(Cluster, topic));

    /// <summary>Moves a partition's leadership to a broker (ids start at 1); clients learn it from metadata.</summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId) =>
        Check(NativeMethods.rd_kafka_mock_partition_set_leader(Cluster, topic, partition, brokerId));

    /// <summary>Takes a broker down (ids start at 1): connections drop and requests fail.</summary>
    public void SetBrokerDown(int brokerId = 1) => Check(NativeMethods.rd_kafka_mock_broker_set_down(Cluster, brokerId));

    public void SetBrokerUp(int brokerId = 1) => Check(NativeMethods.rd_kafka_mock_broker_set_up(Cluster, brokerId));

    /// <summary>Delays every answer of a broker (ids start at 1) by this round trip: a slow but working leader.</summary>
    public void SetBrokerRoundTrip(int brokerId, TimeSpan roundTrip) =>
        Check(NativeMethods.rd_kafka_mock_broker_set_rtt(Cluster, brokerId, (int)roundTrip.TotalMilliseconds));

    /// <summary>Takes every broker of the cluster down or up.</summary>
    public void SetAllBrokers(bool up)
    {
        for (var id = 1; id <= BrokerCount; id++)
        {
            if (up)
            {
                SetBrokerUp(id);
            }
            else
            {
                SetBrokerDown(id);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster != 0)
            {
                NativeMethods.rd_kafka_mock_cluster_destroy(_cluster);
                _cluster = 0;
            }

            if (_rk != 0)
            {
                NativeMethods.rd_kafka_destroy(_rk);
                _rk = 0;
            }
        }
    }

    private nint Cluster => _cluster != 0 ? _cluster : throw new ObjectDisposedException(nameof(EmbeddedKafkaBroker));

    private static void Check(int rc)
    {
        if (rc != 0)
        {
            throw new InvalidOperationException($"mock cluster call failed: error {rc}");
        }
    }

    private static void Set(nint conf, string name, string value, byte[] err)
    {
        if (NativeMethods.rd_kafka_conf_set(conf, name, value, err, (nuint)err.Length) != 0)
        {
            throw new InvalidOperationException($"rd_kafka_conf_set {name} failed: {Text(err)}");
        }
    }

    private static string Text(byte[] err)
    {
        var end = Array.IndexOf(err, (byte)0);
        return Encoding.UTF8.GetString(err, 0, end < 0 ? err.Length : end);
    }

    private static partial class NativeMethods
    {
        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial nint rd_kafka_conf_new();

        [LibraryImport(Librdkafka.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int rd_kafka_conf_set(nint conf, string name, string value, [Out] byte[] errstr, nuint errstrSize);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial nint rd_kafka_new(int type, nint conf, [Out] byte[] errstr, nuint errstrSize);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial void rd_kafka_destroy(nint rk);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial void rd_kafka_mock_cluster_destroy(nint cluster);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial nint rd_kafka_mock_cluster_bootstraps(nint cluster);

        [LibraryImport(Librdkafka.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int rd_kafka_mock_topic_create(nint cluster, string topic, int partitions, int replicationFactor);

        [LibraryImport(Librdkafka.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int rd_kafka_mock_topic_delete(nint cluster, string topic);

        [LibraryImport(Librdkafka.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int rd_kafka_mock_partition_set_leader(nint cluster, string topic, int partition, int brokerId);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial int rd_kafka_mock_broker_set_down(nint cluster, int brokerId);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial int rd_kafka_mock_broker_set_up(nint cluster, int brokerId);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial int rd_kafka_mock_broker_set_rtt(nint cluster, int brokerId, int rttMs);

        [LibraryImport(Librdkafka.LibraryName)]
        internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(nint cluster, int delayMs);
    }
}
