using EnergyWs.Readings;
using Microsoft.AspNetCore.Http;

namespace EnergyWs.Auth;

/// <summary>
/// Which streams a request's token may read: every stream without a <c>Scope</c>, and each whose
/// scope the token carries (<c>scope</c> or <c>scp</c>). With authentication off every stream is open.
/// </summary>
/// <remarks>
/// Decided per upgrade, per REST request and per in-band refresh, as a bit per stream (the bits of
/// <see cref="ClientSelection.Streams"/>), from the <see cref="TokenSession"/> authentication left
/// on the request.
/// </remarks>
/// <param name="authenticated">Whether clients are authenticated at all (off: Auth:Enabled false, or Development without an authority).</param>
internal sealed class StreamAccess(StreamCatalog catalog, bool authenticated)
{
    private readonly bool _enabled = authenticated;

    // Streams any accepted token reads.
    private readonly ulong _open = catalog.Streams.Where(s => s.Scope is null).Aggregate(0UL, (bits, s) => bits | s.Bit);

    /// <summary>The streams the request's credentials may read.</summary>
    public ulong Readable(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return _enabled ? Readable(context.Features.Get<TokenSession>()) : catalog.AllBits;
    }

    /// <summary>The streams a session may read; none but the open ones without one (authentication on, yet nothing validated: fail closed).</summary>
    public ulong Readable(TokenSession? session)
    {
        if (!_enabled)
        {
            return catalog.AllBits;
        }

        var bits = _open;
        if (session is null || session.Scopes.Count == 0)
        {
            return bits;
        }

        foreach (var stream in catalog.Streams)
        {
            if (stream.Scope is { } scope && session.Scopes.Contains(scope))
            {
                bits |= stream.Bit;
            }
        }

        return bits;
    }

    /// <summary>
    /// 403 with <c>WWW-Authenticate: Bearer error="insufficient_scope", scope="…"</c> (RFC 6750
    /// §3.1) naming the scopes <paramref name="wanted"/> needs beyond <paramref name="readable"/>,
    /// and problem details naming the streams.
    /// </summary>
    public async Task ForbidAsync(HttpContext context, ulong wanted, ulong readable)
    {
        ArgumentNullException.ThrowIfNull(context);
        // Scope tokens exclude '"' and '\\' (validated at start), so the quoted value needs no escaping.
        context.Response.Headers.WWWAuthenticate = $"Bearer error=\"insufficient_scope\", scope=\"{MissingScopes(wanted, readable)}\"";
        await Results.Problem(
            statusCode: StatusCodes.Status403Forbidden,
            detail: $"This token may not read stream {string.Join(", ", Names(wanted & ~readable))}: it lacks the scope.")
            .ExecuteAsync(context);
    }

    /// <summary>The scopes that would open <paramref name="wanted"/> beyond <paramref name="readable"/>, space-separated, for <c>WWW-Authenticate</c>.</summary>
    public string MissingScopes(ulong wanted, ulong readable)
    {
        var missing = wanted & ~readable;
        return string.Join(' ', catalog.Streams
            .Where(s => (missing & s.Bit) != 0 && s.Scope is not null)
            .Select(s => s.Scope)
            .Distinct(StringComparer.Ordinal));
    }

    /// <summary>The names of the streams in <paramref name="bits"/>, in index order.</summary>
    public IEnumerable<string> Names(ulong bits) => catalog.Streams.Where(s => (bits & s.Bit) != 0).Select(s => s.Name);
}
