using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Net.Http.Headers;

namespace EnergyWs.Dashboard;

/// <summary>
/// The live dashboard at <c>/</c> and the browser client at <c>/energy-ws-client.js</c>, served
/// from wwwroot. wwwroot/lib (uPlot) is restored from npm by the build, never from a CDN.
/// </summary>
internal static class DashboardExtensions
{
    /// <summary>
    /// Our own files are not fingerprinted, so browsers revalidate them on every load (a cheap 304
    /// thanks to ETag/Last-Modified) and pick up a new release at once.
    /// </summary>
    internal const string AppCacheControl = "no-cache";

    /// <summary>The library only changes with a package-lock bump; a day of staleness is harmless.</summary>
    internal const string LibraryCacheControl = "public, max-age=86400";

    public static WebApplication UseDashboard(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            // .mjs is not in the default map; served as JavaScript so module imports work.
            ContentTypeProvider = ContentTypes,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                headers[HeaderNames.CacheControl] = context.Context.Request.Path.StartsWithSegments("/lib", StringComparison.Ordinal)
                    ? LibraryCacheControl
                    : AppCacheControl;
                headers[HeaderNames.XContentTypeOptions] = "nosniff";
            },
        });
        return app;
    }

    private static readonly FileExtensionContentTypeProvider ContentTypes = CreateContentTypes();

    private static FileExtensionContentTypeProvider CreateContentTypes()
    {
        var provider = new FileExtensionContentTypeProvider();
        provider.Mappings[".mjs"] = "text/javascript";
        return provider;
    }
}
