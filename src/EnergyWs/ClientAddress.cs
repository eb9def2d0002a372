using System.Net;

namespace EnergyWs;

/// <summary>
/// How a client of a request is named: in logs by its address and port; in per-IP limits by the
/// address it counts against. An IPv6 client usually holds a whole /64 (privacy extensions hand
/// out a new address per connection, and SLAAC lets it pick any), so its exact address would let
/// it rotate past every per-IP limit: IPv6 counts by /64. IPv4 counts by
/// the address, and an IPv4-mapped IPv6 address (a dual-stack socket) as the IPv4 address it carries.
/// </summary>
internal static class ClientAddress
{
    /// <summary>Bits of an IPv6 address that name the client's network.</summary>
    public const int IPv6PrefixLength = 64;

    /// <summary>
    /// "address:port" of the peer (after forwarded headers, when they are trusted), for logs. The
    /// port tells apart the connections of one client behind the same address (tabs, a NAT'ed office).
    /// </summary>
    public static string Format(ConnectionInfo connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return $"{connection.RemoteIpAddress}:{connection.RemotePort}";
    }

    /// <summary>The bucket <paramref name="address"/> counts in; null stays null.</summary>
    public static IPAddress? Bucket(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[(IPv6PrefixLength / 8)..].Clear();
        // Without the scope id: a link-local client is one client whichever interface it came in on.
        return new IPAddress(bytes);
    }

    /// <summary>The bucket as text, e.g. 192.0.2.7 or 2001:db8:1:2::; "unknown" without an address.</summary>
    public static string Key(IPAddress? address) => Bucket(address)?.ToString() ?? "unknown";
}
