using System.Globalization;
using System.Net.WebSockets;
using BookShelf.Gateway.Diagnostics;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// <c>GET /ws/update_notice/</c>: the contract endpoint. A bare connection joins the site group. Query options:
/// <c>groups=site,post-7</c> (instead of the site group) and <c>resume=site:41,post-7:3</c> (replay what came
/// after those seqs). Origins not allowed by configuration are refused with 403 before the upgrade.
/// </summary>
public static partial class UpdateNoticeEndpoint
{
    /// <summary>Maps the endpoint; routing matches it with and without the trailing slash.</summary>
    public static IEndpointRouteBuilder MapUpdateNotice(this IEndpointRouteBuilder app)
    {
        app.Map("/ws/update_notice", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext context, GatewayFeed feed, GatewayMetrics metrics, IOptions<GatewayOptions> options, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
    {
        var settings = options.Value;
        if (!IsOriginAllowed(context.Request, settings))
        {
            LogOriginRefused(loggers.CreateLogger(typeof(UpdateNoticeEndpoint)), context.Request.Headers.Origin.ToString());
            await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Origin not allowed", detail: "This origin may not open the BookShelf WebSocket.").ExecuteAsync(context);
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "WebSocket required", detail: "Open this URL with a WebSocket client.").ExecuteAsync(context);
            return;
        }

        if (!TryReadSubscriptions(context.Request.Query, settings, out var initial, out var error))
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad subscription", detail: error).ExecuteAsync(context);
            return;
        }

        var session = new WebSocketSession(feed, settings, metrics, loggers.CreateLogger<WebSocketSession>());
        WebSocket socket;
        try
        {
            // Joined before the upgrade: a client that sees it succeed gets every later event. A bare URL is the
            // original client, which expects nothing but post frames.
            var bare = !context.Request.Query.ContainsKey("groups") && !context.Request.Query.ContainsKey("resume");
            await session.JoinAsync(initial.Where(s => s.Resume is null).Select(s => s.Group), announce: !bare, context.RequestAborted);
            socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                KeepAliveInterval = settings.PingInterval,
                KeepAliveTimeout = settings.PingTimeout,
            });
        }
        catch
        {
            await session.LeaveAllAsync();
            throw;
        }

        using (socket)
        {
            await session.RunAsync(socket, [.. initial.Where(s => s.Resume is not null).Select(s => (s.Group, s.Resume!.Value))], lifetime.ApplicationStopping);
        }
    }

    /// <summary>Scripts send no Origin; browsers do, and it must be the gateway's own or a configured one.</summary>
    internal static bool IsOriginAllowed(HttpRequest request, GatewayOptions options)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true;
        }

        if (options.AllowedOrigins.Length > 0)
        {
            return options.AllowedOrigins.Any(o => string.Equals(o.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase));
        }

        return string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Reads <c>groups</c> and <c>resume</c> from the query; a bare URL means the site group.</summary>
    internal static bool TryReadSubscriptions(IQueryCollection query, GatewayOptions options, out List<(string Group, long? Resume)> subscriptions, out string? error)
    {
        subscriptions = [];
        error = null;
        var groups = query["groups"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
        var resume = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var item in query["resume"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var colon = item.LastIndexOf(':');
            if (colon <= 0 || !long.TryParse(item.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq) || !Groups.IsValid(item[..colon]))
            {
                error = "resume is a comma-separated list of group:seq, e.g. site:41,post-7:3.";
                return false;
            }

            resume[item[..colon]] = seq;
            if (!groups.Contains(item[..colon]))
            {
                groups.Add(item[..colon]);
            }
        }

        if (groups.Count == 0)
        {
            groups.Add(Groups.Site);
        }

        if (groups.Count > options.MaxSubscriptionsPerConnection)
        {
            error = $"At most {options.MaxSubscriptionsPerConnection} groups per connection.";
            return false;
        }

        foreach (var group in groups)
        {
            if (!Groups.IsValid(group))
            {
                error = $"'{(group.Length > 64 ? group[..64] : group)}' is not a group: use 'site' or 'post-<id>'.";
                return false;
            }

            subscriptions.Add((group, resume.TryGetValue(group, out var s) ? s : null));
        }

        return true;
    }

    [LoggerMessage(4101, LogLevel.Debug, "WebSocket refused: origin {Origin} not allowed")]
    private static partial void LogOriginRefused(ILogger logger, string origin);
}
