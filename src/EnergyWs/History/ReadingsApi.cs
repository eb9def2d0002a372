using System.Buffers;
using EnergyWs.Auth;
using EnergyWs.Readings;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace EnergyWs.History;

/// <summary>
/// GET /api/readings and /api/readings/latest: the history as a JSON array of readings, each the
/// exact bytes a WebSocket client gets, for a chart's first paint and for non-WebSocket consumers.
/// </summary>
internal sealed class ReadingsApi(ReadingHistory history, StreamCatalog catalog, StreamAccess access, IOptions<HistoryOptions> options)
{
    /// <summary>Set to "true" when more readings matched than History:MaxApiReadings; the newest are returned.</summary>
    public const string TruncatedHeader = "X-Readings-Truncated";

    private readonly HistoryOptions _options = options.Value;

    /// <summary>?since= (exclusive) &amp;until= (inclusive) &amp;stream= &amp;device= &amp;channel=</summary>
    public async Task ReadingsAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var query = context.Request.Query;
        if (!ClientSelection.TryParse(query, catalog, out var selection, out var named, out var error))
        {
            await BadRequestAsync(context, error!);
            return;
        }

        if (access.Readable(context) is var readable && (selection.Streams & ~readable) != 0)
        {
            await access.ForbidAsync(context, selection.Streams, readable);
            return;
        }

        DateTimeOffset? since = null, until = null;
        if (query["since"].Count > 0)
        {
            if (!ReplayRequest.TryParseInstant(query["since"], out var s))
            {
                await BadRequestAsync(context, "'since' must be one ISO-8601 instant, e.g. 2026-01-08T19:30:00Z.");
                return;
            }

            since = s;
        }

        if (query["until"].Count > 0)
        {
            if (!ReplayRequest.TryParseInstant(query["until"], out var u))
            {
                await BadRequestAsync(context, "'until' must be one ISO-8601 instant, e.g. 2026-01-08T20:30:00Z.");
                return;
            }

            until = u;
        }

        if (since is { } from && until is { } to && to < from)
        {
            await BadRequestAsync(context, "'until' must not be before 'since'.");
            return;
        }

        var snapshot = history.Query(selection, since, until, _options.MaxApiReadings);
        if (snapshot.Truncated)
        {
            context.Response.Headers[TruncatedHeader] = "true";
        }

        await WriteArrayAsync(context, snapshot.Frames, named);
    }

    public async Task LatestAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!ClientSelection.TryParse(context.Request.Query, catalog, out var selection, out var named, out var error))
        {
            await BadRequestAsync(context, error!);
            return;
        }

        if (access.Readable(context) is var readable && (selection.Streams & ~readable) != 0)
        {
            await access.ForbidAsync(context, selection.Streams, readable);
            return;
        }

        await WriteArrayAsync(context, history.Latest(selection).Frames, named);
    }

    private static Task BadRequestAsync(HttpContext context, string detail) =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: detail).ExecuteAsync(context);

    /// <summary>
    /// Joins the frames' own bytes into an array, flushing as it goes instead of building one
    /// buffer: each as a WebSocket client of the same query gets it (named streams name theirs).
    /// </summary>
    private static async Task WriteArrayAsync(HttpContext context, List<Readings.ReadingFrame> frames, bool named)
    {
        const int FlushEvery = 64 * 1024;
        var response = context.Response;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        var body = response.BodyWriter;
        body.Write("["u8);
        var unflushed = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            if (i > 0)
            {
                body.Write(","u8);
            }

            var json = named ? frames[i].Named.Span : frames[i].Utf8Json.Span;
            body.Write(json);
            unflushed += json.Length + 1;
            if (unflushed >= FlushEvery)
            {
                await body.FlushAsync(context.RequestAborted);
                unflushed = 0;
            }
        }

        body.Write("]"u8);
        await body.FlushAsync(context.RequestAborted);
    }
}
