using System.Diagnostics.Metrics;

namespace EnergyWs.Streaming;

/// <summary>Connections, frames and delivery latency of the WebSocket side.</summary>
internal sealed class StreamingMetrics
{
    public const string MeterName = "EnergyWs.Streaming";

    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _connectionAttempts;
    private readonly Counter<long> _framesSent;
    private readonly Counter<long> _framesDropped;
    private readonly Counter<long> _clientsClosed;
    private readonly Histogram<double> _deliveryLatency;

    public StreamingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _connections = meter.CreateUpDownCounter<long>("energyws_connections", "{connection}", "WebSocket clients connected now.");
        _connectionAttempts = meter.CreateCounter<long>("energyws_connections_total", "{connection}", "WebSocket upgrade attempts, by result.");
        _framesSent = meter.CreateCounter<long>("energyws_frames_sent_total", "{frame}", "Frames written to clients.");
        _framesDropped = meter.CreateCounter<long>("energyws_frames_dropped_total", "{frame}", "Frames dropped before reaching a client, by reason.");
        _clientsClosed = meter.CreateCounter<long>("energyws_clients_closed_total", "{connection}", "Connections ended, by reason.");
        _deliveryLatency = meter.CreateHistogram(
            "energyws_delivery_latency_seconds",
            "s",
            "Kafka record timestamp to the write of a frame to a client socket; one sample per write, for the oldest frame in it.",
            tags: null,
            advice: new InstrumentAdvice<double>
            {
                // Readings are expected within milliseconds; the tail buckets catch overload and clock skew.
                HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            });
    }

    public void Accepted()
    {
        _connectionAttempts.Add(1, new KeyValuePair<string, object?>("result", "accepted"));
        _connections.Add(1);
    }

    /// <summary>
    /// An upgrade refused before it happened: rejected_auth, rejected_origin, rejected_limit (Streaming:MaxConnections
    /// reached), rejected_shutdown (the server is stopping), rejected_rate, rejected_user_limit, rejected_replay_busy.
    /// </summary>
    public void Rejected(string result) => _connectionAttempts.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Closed(string reason)
    {
        _connections.Add(-1);
        _clientsClosed.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>Frames handed to a client's socket in one write.</summary>
    public void FramesSent(int count)
    {
        if (count > 0)
        {
            _framesSent.Add(count);
        }
    }

    /// <summary>Kafka record timestamp to a write to a client socket (one per write, its oldest frame).</summary>
    public void DeliveryLatency(double seconds)
    {
        if (seconds >= 0)
        {
            _deliveryLatency.Record(seconds);
        }
    }

    public void FrameDropped(string reason) => _framesDropped.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void FramesDropped(string reason, long count)
    {
        if (count > 0)
        {
            _framesDropped.Add(count, new KeyValuePair<string, object?>("reason", reason));
        }
    }
}
