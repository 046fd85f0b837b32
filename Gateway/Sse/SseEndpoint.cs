using BookShelf.Gateway.Diagnostics;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.Options;
using BookShelf.Gateway.WebSockets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace BookShelf.Gateway.Sse;

/// <summary>
/// <c>GET /sse/update_notice/</c>: the Server-Sent Events fallback of <see cref="UpdateNoticeEndpoint"/>, with the
/// same <c>groups</c> and <c>resume</c> parameters, origin rules and connection caps. A <c>Last-Event-ID</c> header
/// (what the browser sends when it reconnects by itself) is a position like <c>site:41,post-7:3</c> and resumes
/// those groups, overriding the URL's <c>resume</c>. See docs/protocol.md.
/// </summary>
public static class SseEndpoint
{
    /// <summary>The endpoint's path (with or without the trailing slash).</summary>
    public const string Path = "/sse/update_notice";

    /// <summary>Maps the endpoint.</summary>
    public static IEndpointRouteBuilder MapSseUpdateNotice(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var origin = context.Request.Headers.Origin.Count > 0 ? context.Request.Headers.Origin.ToString() : null;
        // A page elsewhere can make a browser GET this without an Origin (an <img>, a no-cors fetch) and count its
        // visitors as readers; browsers say so in Sec-Fetch-Site. Scripts send neither header.
        var crossSite = origin is null && context.Request.Headers["Sec-Fetch-Site"].ToString() is "cross-site" or "same-site";
        if (crossSite || !UpdateNoticeEndpoint.IsOriginAllowed(context.Request.Scheme, context.Request.Host.Value ?? "", origin, options))
        {
            UpdateNoticeEndpoint.LogOriginRefused(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SseEndpoint)), origin ?? "");
            await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Origin not allowed", detail: "This origin may not open the BookShelf event stream.").ExecuteAsync(context);
            return;
        }

        var query = QueryHelpers.ParseQuery(context.Request.QueryString.Value);
        var lastEventId = context.Request.Headers["Last-Event-ID"].ToString();
        if (!string.IsNullOrWhiteSpace(lastEventId))
        {
            // The position the stream gave its last event comes after the URL's resume seqs, so it wins per group;
            // a group it does not name keeps the URL's.
            var fromUrl = query.TryGetValue("resume", out var url) ? url.ToString() : "";
            query["resume"] = new StringValues(fromUrl.Length > 0 ? $"{fromUrl},{lastEventId}" : lastEventId);
        }

        if (!UpdateNoticeEndpoint.TryReadSubscriptions(new QueryCollection(query), options, out var subscriptions, out var uncounted, out var error))
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad subscription", detail: string.IsNullOrWhiteSpace(lastEventId) ? error : $"Last-Event-ID: {error}").ExecuteAsync(context);
            return;
        }

        if (!UpdateNoticeEndpoint.TryReadPresence(new QueryCollection(query), out var presence))
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad subscription", detail: "presence is 1 or 0.").ExecuteAsync(context);
            return;
        }

        var contact = services.GetRequiredService<Extensions.ClusterContact>();
        if (contact.IsLost)
        {
            context.Response.Headers.RetryAfter = "5";
            await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Cluster unreachable", detail: UpdateNoticeEndpoint.ClusterLostDetail).ExecuteAsync(context);
            return;
        }

        if (services.GetRequiredService<ConnectionCaps>().TryAcquire(context.Connection.RemoteIpAddress, out var refusal) is not { } lease)
        {
            context.Response.Headers.RetryAfter = "5";
            await Results.Problem(statusCode: refusal, title: "Too many connections", detail: UpdateNoticeEndpoint.CapDetail(refusal)).ExecuteAsync(context);
            return;
        }

        using (lease)
        {
            var session = new SseSession(
                services.GetRequiredService<GatewayFeed>(),
                services.GetRequiredService<KnownGroups>(),
                options,
                services.GetRequiredService<GatewayMetrics>(),
                services.GetRequiredService<Presence.PresenceTracker>(),
                presence,
                uncounted,
                services.GetRequiredService<TimeProvider>(),
                services.GetRequiredService<ILoggerFactory>().CreateLogger<SseSession>());
            var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
            using var stopping = lifetime.ApplicationStopping.Register(session.End);
            using var lost = contact.LostToken.Register(session.End);
            try
            {
                await session.JoinAsync(subscriptions, context.RequestAborted);
            }
            catch
            {
                await session.LeaveAllAsync();
                throw;
            }

            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache, no-transform";
            context.Response.Headers["X-Accel-Buffering"] = "no"; // a buffering proxy would hold events back
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            await session.RunAsync(context.Response, [.. subscriptions.Where(s => s.Resume is not null).Select(s => (s.Group, s.Resume!.Value))], context.RequestAborted);
        }
    }
}
