namespace EnergyWs;

/// <summary>How logs name the client of a request: its address and port as Kestrel sees them.</summary>
internal static class ClientAddress
{
    /// <summary>
    /// "address:port" of the peer (after forwarded headers, when they are trusted). The port tells
    /// apart the connections of one client behind the same address (tabs, a NAT'ed office).
    /// </summary>
    public static string Format(ConnectionInfo connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return $"{connection.RemoteIpAddress}:{connection.RemotePort}";
    }
}
