using System.Net;
using EnergyWs.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace EnergyWs.Tests.Streaming;

/// <summary>What the per-IP limits count: IPv4 by address, IPv6 by /64, IPv4-mapped IPv6 as IPv4.</summary>
public sealed class ClientAddressTests
{
    [Theory]
    [InlineData("192.0.2.7", "192.0.2.7")]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::")]
    [InlineData("fe80::1%3", "fe80::")]
    [InlineData("::1", "::")]
    public void Key_Address_CountsInItsBucket(string address, string bucket) =>
        Assert.Equal(bucket, ClientAddress.Key(IPAddress.Parse(address)));

    [Fact]
    public void Key_NoAddress_IsUnknown() => Assert.Equal("unknown", ClientAddress.Key(null));

    [Fact]
    public void ConnectionsPerUser_IPv6ClientRotatingWithinItsSlash64_IsHeldToTheLimit()
    {
        var limits = new ConnectionsPerUser(Options.Create(new StreamingOptions { MaxConnectionsPerUser = 1 }));

        using var first = limits.TryAcquire(Request("2001:db8:1:2::1"));
        Assert.NotNull(first);
        Assert.Null(limits.TryAcquire(Request("2001:db8:1:2:ffff:1234:5678:9abc")));
        // The next /64 is somebody else.
        using var neighbour = limits.TryAcquire(Request("2001:db8:1:3::1"));
        Assert.NotNull(neighbour);
    }

    [Fact]
    public void ConnectionsPerUser_SameIPv4OverADualStackSocket_IsOneClient()
    {
        var limits = new ConnectionsPerUser(Options.Create(new StreamingOptions { MaxConnectionsPerUser = 1 }));

        using var first = limits.TryAcquire(Request("192.0.2.7"));
        Assert.NotNull(first);
        Assert.Null(limits.TryAcquire(Request("::ffff:192.0.2.7")));
    }

    private static DefaultHttpContext Request(string address)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
        return context;
    }
}
