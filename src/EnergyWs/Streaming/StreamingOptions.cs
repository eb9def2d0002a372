using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EnergyWs.Streaming;

internal sealed class StreamingOptions
{
    public const string Section = "Streaming";

    [Range(1, 1_000_000, ErrorMessage = "Streaming:MaxConnections must be between 1 and 1000000.")]
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>
    /// How far behind the newest frame a client may fall, in frames, before frames are skipped
    /// for it (oldest first, each counted as dropped). There is no queue per client: every client
    /// reads the broadcaster's one shared ring through its own cursor, and this bounds how far that
    /// cursor may trail the head (the ring holds twice as many). 1,024 absorb a burst of a thousand
    /// readings. Bound from the key <c>Streaming:QueueCapacity</c>, its name from when each client
    /// had a queue of its own, kept so existing configuration still applies.
    /// </summary>
    [ConfigurationKeyName("QueueCapacity")]
    [Range(1, 100_000, ErrorMessage = "Streaming:QueueCapacity must be between 1 and 100000.")]
    public int MaxFramesBehind { get; set; } = 1024;

    /// <summary>
    /// A queued reading older than this is dropped instead of sent: a client that fell behind gets
    /// the newest readings with bounded delay rather than an ever-growing lag.
    /// </summary>
    [TimeSpanRange("00:00:00.010", "01:00:00", ErrorMessage = "Streaming:MaxFrameAge must be between 00:00:00.01 and 01:00:00.")]
    public TimeSpan MaxFrameAge { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A client whose socket accepts nothing for this long is closed with 1008 "too slow".</summary>
    [TimeSpanRange("00:00:00.100", "01:00:00", ErrorMessage = "Streaming:SlowClientTimeout must be between 00:00:00.1 and 01:00:00.")]
    public TimeSpan SlowClientTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Server pings at this interval (the seed documents 30 s).</summary>
    [TimeSpanRange("00:00:01", "01:00:00", ErrorMessage = "Streaming:PingInterval must be between 00:00:01 and 01:00:00.")]
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A peer that does not answer a ping within this is treated as dead and dropped.</summary>
    [TimeSpanRange("00:00:01", "01:00:00", ErrorMessage = "Streaming:PongTimeout must be between 00:00:01 and 01:00:00.")]
    public TimeSpan PongTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a close handshake may take before the connection is aborted.</summary>
    [TimeSpanRange("00:00:00.100", "00:01:00", ErrorMessage = "Streaming:CloseTimeout must be between 00:00:00.1 and 00:01:00.")]
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Kernel send buffer of each client socket (SO_SNDBUF, which Linux doubles); 0 leaves it to the
    /// OS. Bytes handed to the kernel can no longer be dropped as stale, and an autotuned buffer
    /// (up to net.ipv4.tcp_wmem max, 4 MB by default: ~25,000 readings) lets a slow client fall
    /// tens of seconds behind before our queue, its drop-oldest and <see cref="MaxFrameAge"/> see
    /// any backlog. Set on the listening socket, so every accepted connection inherits it.
    /// </summary>
    [Range(0, 16 * 1024 * 1024, ErrorMessage = "Streaming:SocketSendBufferBytes must be between 0 and 16777216.")]
    public int SocketSendBufferBytes { get; set; }

    /// <summary>
    /// WebSocket writes go to the connection's socket instead of through Kestrel's output pipe
    /// (plain HTTP/1.1 only). Saves a copy and a thread wake-up per write. Not applied when Kestrel
    /// is configured to serve HTTPS itself; with TLS in code (<c>ListenOptions.UseHttps</c>), turn it
    /// off. What it needs from Kestrel and when it falls back: <see cref="EnergyWs.Streaming.DirectSocketWrites"/>.
    /// </summary>
    public bool DirectSocketWrites { get; set; } = true;

    /// <summary>
    /// Default <see cref="MaxMessageBytes"/>: a token refresh carrying the longest token accepted
    /// (<see cref="Auth.BearerToken.MaxLength"/>, 16 KB) with room for its JSON.
    /// </summary>
    public const int DefaultMaxMessageBytes = Auth.BearerToken.MaxLength + 1024;

    /// <summary>
    /// Largest client message. Control messages are tiny except a token refresh (JWTs are 1-4 KB,
    /// some providers' larger); anything beyond is hostile. Idle clients read into a 256-byte
    /// buffer; this much is rented only while a longer message arrives.
    /// </summary>
    [Range(128, 1024 * 1024, ErrorMessage = "Streaming:MaxMessageBytes must be between 128 and 1048576.")]
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>
    /// Control messages (ping, subscribe, refresh, …) one connection may send a second on average,
    /// after its burst is spent; beyond it the connection is told rate_limited and closed.
    /// </summary>
    [Range(1, 10_000, ErrorMessage = "Streaming:ControlMessagesPerSecond must be between 1 and 10000.")]
    public int ControlMessagesPerSecond { get; set; } = 20;

    /// <summary>Control messages one connection may send at once before the per-second rate applies.</summary>
    [Range(1, 100_000, ErrorMessage = "Streaming:ControlMessageBurst must be between 1 and 100000.")]
    public int ControlMessageBurst { get; set; } = 40;

    /// <summary>
    /// Connection attempts one client IP may make per minute, after its burst is spent; beyond it
    /// the attempt gets 429. A dashboard reconnecting with backoff makes a few; 0 turns the limit off.
    /// </summary>
    [Range(0, 6000, ErrorMessage = "Streaming:ConnectAttemptsPerMinute must be between 0 and 6000.")]
    public int ConnectAttemptsPerMinute { get; set; } = 120;

    /// <summary>Attempts one IP may make at once (several tabs, a NAT'ed office) before the per-minute rate applies.</summary>
    [Range(1, 100_000, ErrorMessage = "Streaming:ConnectAttemptBurst must be between 1 and 100000.")]
    public int ConnectAttemptBurst { get; set; } = 60;

    /// <summary>
    /// Open connections one client may hold: per token subject when authentication is on, else per
    /// client id, else per client IP. Beyond it the upgrade gets 429, so one principal cannot take
    /// every slot of <see cref="MaxConnections"/>. 0 turns the limit off.
    /// </summary>
    [Range(0, 1_000_000, ErrorMessage = "Streaming:MaxConnectionsPerUser must be between 0 and 1000000.")]
    public int MaxConnectionsPerUser { get; set; } = 100;

    /// <summary>
    /// Requests to /api/readings and /api/readings/latest one client IP may make per minute, after
    /// its burst is spent; beyond it the request gets 429. A dashboard makes one per page load; each
    /// request copies up to History:MaxApiReadings readings. 0 turns the limit off.
    /// </summary>
    [Range(0, 60_000, ErrorMessage = "Streaming:ApiRequestsPerMinute must be between 0 and 60000.")]
    public int ApiRequestsPerMinute { get; set; } = 600;

    /// <summary>Requests one IP may make at once before the per-minute rate applies.</summary>
    [Range(1, 100_000, ErrorMessage = "Streaming:ApiRequestBurst must be between 1 and 100000.")]
    public int ApiRequestBurst { get; set; } = 60;
}

[OptionsValidator]
internal sealed partial class StreamingOptionsValidator : IValidateOptions<StreamingOptions>;
