using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using EnergyWs.Readings;
using EnergyWs.Streaming;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnergyWs.Tests.History;

/// <summary>
/// A replay has a deadline for the whole of it: a client that reads a batch now and then, each
/// write within the slow-client timeout, is still closed as too slow once its replay takes longer.
/// </summary>
public sealed class ReplayDeadlineTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new();
    private readonly StreamingOptions _options = new() { SlowClientTimeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public void ReplayNotWrittenWithinItsDeadline_ClosesTheClientAsTooSlow()
    {
        var client = Register();
        using var release = new Released();
        client.Writer.SetReplay([], release, timeout: TimeSpan.FromSeconds(30));

        // No write is pending (the slow-client clock is not running), as between two batches.
        _time.Advance(TimeSpan.FromSeconds(29));
        client.Check(_time.GetTimestamp(), _time.GetUtcNow());
        Assert.False(client.IsClosing);

        _time.Advance(TimeSpan.FromSeconds(2));
        client.Check(_time.GetTimestamp(), _time.GetUtcNow());
        Assert.True(client.IsClosing);
    }

    [Fact]
    public async Task ReplayWritten_DeadlineNoLongerApplies()
    {
        var client = Register();
        using var release = new Released();
        client.Writer.SetReplay([], release, timeout: TimeSpan.FromSeconds(30));

        await client.Writer.WriteReplayAsync();
        Assert.True(release.Disposed);

        _time.Advance(TimeSpan.FromMinutes(5));
        client.Check(_time.GetTimestamp(), _time.GetUtcNow());
        Assert.False(client.IsClosing);
    }

    public void Dispose() => _services.Dispose();

    private ClientConnection Register()
    {
        var transport = new WebSocketTransport(new MemoryStream());
        var socket = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true });
        var metrics = new StreamingMetrics(_services.GetRequiredService<IMeterFactory>());
        var broadcaster = new Broadcaster(Options.Create(_options));
        var client = new ClientConnection(socket, transport, ClientSelection.All, "127.0.0.1:1", _options, metrics, _time, NullLogger.Instance);
        Assert.True(broadcaster.TryAdd(client, int.MaxValue, broadcaster.Head, out _));
        return client;
    }

    private sealed class Released : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }
}
