using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace EnergyWs.Streaming;

/// <summary>
/// Open connections per principal (Streaming:MaxConnectionsPerUser): the token's subject, else its
/// client id, else the client IP (IPv6 by /64, see <see cref="ClientAddress"/>). A slot is taken before the upgrade and given back by disposing
/// the lease, exactly once whichever way the connection ends.
/// </summary>
internal sealed class ConnectionsPerUser(IOptions<StreamingOptions> options)
{
    private readonly int _limit = options.Value.MaxConnectionsPerUser;

    // Guards _counts; held only to compare and update one entry, at connect and disconnect.
    private readonly Lock _gate = new();

    // Only principals holding at least one connection have an entry.
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);

    /// <summary>The principal a request's connection counts against.</summary>
    public static string KeyOf(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var user = context.User;
        if (user.Identity?.IsAuthenticated == true)
        {
            if (Auth.TokenRules.PrincipalKey(user) is { } principal)
            {
                return principal;
            }
        }

        // Without a token (Auth off, or an anonymous request) the client IP, an IPv6 client by its /64.
        return "ip:" + ClientAddress.Key(context.Connection.RemoteIpAddress);
    }

    /// <summary>Connections <paramref name="key"/> holds now.</summary>
    public int Count(string key)
    {
        lock (_gate)
        {
            return _counts.GetValueOrDefault(key);
        }
    }

    /// <summary>Takes a slot for the request's principal; null when it holds the limit already.</summary>
    public Lease? TryAcquire(HttpContext context)
    {
        if (_limit == 0)
        {
            return Lease.Unlimited;
        }

        var key = KeyOf(context);
        lock (_gate)
        {
            var count = _counts.GetValueOrDefault(key);
            if (count >= _limit)
            {
                return null;
            }

            _counts[key] = count + 1;
        }

        return new Lease(this, key);
    }

    private void Release(string key)
    {
        lock (_gate)
        {
            var count = _counts.GetValueOrDefault(key) - 1;
            if (count > 0)
            {
                _counts[key] = count;
            }
            else
            {
                _counts.Remove(key);
            }
        }
    }

    /// <summary>One connection's slot.</summary>
    internal sealed class Lease : IDisposable
    {
        public static readonly Lease Unlimited = new(null, "");

        private readonly ConnectionsPerUser? _owner;
        private readonly string _key;
        private int _released;

        internal Lease(ConnectionsPerUser? owner, string key)
        {
            _owner = owner;
            _key = key;
        }

        /// <summary>Gives the slot back; later calls do nothing.</summary>
        public void Dispose()
        {
            if (_owner is not null && Interlocked.Exchange(ref _released, 1) == 0)
            {
                _owner.Release(_key);
            }
        }
    }
}
