using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace EnergyWs.Tests.Browser;

/// <summary>
/// Test-only middleware: serves test pages and texts, and records what browsers offer as subprotocols
/// (where the token travels) and the /ws query (history= or since=).
/// </summary>
internal sealed class TestHooks : IStartupFilter
{
    private readonly List<string> _protocols = [];
    private readonly List<string> _queries = [];

    public ConcurrentDictionary<string, string> Pages { get; } = new(StringComparer.Ordinal);

    /// <summary>Plain-text answers made per request (a fresh token from the provider stand-in).</summary>
    public ConcurrentDictionary<string, Func<string>> Texts { get; } = new(StringComparer.Ordinal);

    public string[] Protocols { get { lock (_protocols) { return [.. _protocols]; } } }

    public string[] Queries { get { lock (_protocols) { return [.. _queries]; } } }

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((HttpContext context, RequestDelegate nextDelegate) =>
        {
            if (Pages.TryGetValue(context.Request.Path.Value ?? "", out var html))
            {
                context.Response.ContentType = "text/html; charset=utf-8";
                return context.Response.WriteAsync(html);
            }

            if (Texts.TryGetValue(context.Request.Path.Value ?? "", out var text))
            {
                context.Response.ContentType = "text/plain; charset=utf-8";
                return context.Response.WriteAsync(text());
            }

            if (context.Request.Path == "/ws")
            {
                lock (_protocols)
                {
                    _protocols.Add(context.Request.Headers.SecWebSocketProtocol.ToString());
                    _queries.Add(context.Request.QueryString.Value ?? "");
                }
            }

            return nextDelegate(context);
        });
        next(app);
    };
}
