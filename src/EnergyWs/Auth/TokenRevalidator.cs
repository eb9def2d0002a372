using System.Net;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EnergyWs.Auth;

/// <summary>
/// Checks a token sent on an open connection exactly as the upgrade checked its token: it runs the
/// same authentication handler (same validation parameters, cached keys, events and
/// <see cref="TokenRules"/>) on a request that carries only that token. No second validator.
/// </summary>
internal sealed class TokenRevalidator(IServiceScopeFactory scopes)
{
    /// <summary>The credentials the token grants, or null and why it was refused (never the token's contents).</summary>
    /// <param name="client">The connection's address: an opaque token's introspection counts against
    /// that address's limit, as at the upgrade, not against one bucket every connection would share.</param>
    /// <param name="aborted">The connection's end: an introspection in flight for a client that left is given up.</param>
    public async Task<(TokenSession? Session, string Refusal)> ValidateAsync(string? token, IPAddress? client, CancellationToken aborted)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            return (null, "no token");
        }

        await using var scope = scopes.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider, RequestAborted = aborted };
        context.Connection.RemoteIpAddress = client;
        context.Request.Headers.Authorization = "Bearer " + token;
        var result = await context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme);
        if (!result.Succeeded)
        {
            return (null, result.Failure is null ? "not accepted" : AuthExtensions.Describe(result.Failure));
        }

        return context.Features.Get<TokenSession>() is { } session ? (session, "") : (null, "no expiry");
    }
}
