using System.Globalization;
using System.IO.Pipelines;
using BookShelf.Gateway.Diagnostics;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.Options;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// <c>GET /ws/update_notice/</c>: the contract endpoint. A bare connection joins the site group. Query options:
/// <c>groups=site,post-7</c> (instead of the site group) and <c>resume=site:41,post-7:3</c> (replay what came
/// after those seqs). Origins not allowed by configuration are refused with 403 before the upgrade.
/// Most connections are served by <see cref="UpdateNoticeFastPath"/> below HTTP; this endpoint serves the rest
/// (a WebSocket asked for on a connection that already carried HTTP requests, or over TLS), with the same rules.
/// </summary>
public static partial class UpdateNoticeEndpoint
{
    /// <summary>The endpoint's path (routing and the fast path accept it with and without the trailing slash).</summary>
    public const string Path = "/ws/update_notice";

    /// <summary>Maps the endpoint.</summary>
    public static IEndpointRouteBuilder MapUpdateNotice(this IEndpointRouteBuilder app)
    {
        app.Map(Path, HandleAsync);
        return app;
    }

    /// <summary>The rules, whichever path the request came by: origin, then the groups asked for.</summary>
    public static UpgradeDecision Decide(UpgradeRequest request, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        if (!IsOriginAllowed(request.Scheme, request.Host, request.Origin, options))
        {
            return UpgradeDecision.Refuse(StatusCodes.Status403Forbidden, "Origin not allowed", "This origin may not open the BookShelf WebSocket.");
        }

        var query = new QueryCollection(QueryHelpers.ParseQuery(request.Query));
        if (!TryReadSubscriptions(query, options, out var subscriptions, out var uncounted, out var error))
        {
            return UpgradeDecision.Refuse(StatusCodes.Status400BadRequest, "Bad subscription", error!);
        }

        if (!TryReadPresence(query, out var presence))
        {
            return UpgradeDecision.Refuse(StatusCodes.Status400BadRequest, "Bad subscription", "presence is 1 or 0.");
        }

        return new UpgradeDecision(StatusCodes.Status101SwitchingProtocols, null, null, subscriptions, !query.ContainsKey("groups") && !query.ContainsKey("resume") && !query.ContainsKey("uncounted") && !presence, presence, uncounted);
    }

    /// <summary>
    /// A session for an accepted upgrade, already in the groups asked for without a resume seq (joined before the
    /// upgrade is answered, so a client that sees it succeed gets every later event). Attach the connection, then
    /// run it with <see cref="Resumes"/>.
    /// </summary>
    public static async Task<WebSocketSession> JoinAsync(UpgradeDecision decision, IServiceProvider services, ConnectionCaps.Lease lease, CancellationToken aborted)
    {
        ArgumentNullException.ThrowIfNull(decision);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(lease);
        var session = new WebSocketSession(
            services.GetRequiredService<GatewayFeed>(),
            services.GetRequiredService<KnownGroups>(),
            services.GetRequiredService<IOptions<GatewayOptions>>().Value,
            services.GetRequiredService<GatewayMetrics>(),
            services.GetRequiredService<HeartbeatMonitor>(),
            services.GetRequiredService<Presence.PresenceTracker>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger<WebSocketSession>());
        session.Hold(lease);
        try
        {
            await session.JoinAsync(decision.Subscriptions.Where(s => s.Resume is null).Select(s => s.Group), announce: !decision.Bare, decision.Presence, decision.Uncounted, aborted);
        }
        catch
        {
            await session.LeaveAllAsync();
            throw;
        }

        return session;
    }

    /// <summary>The groups to resume once the connection is attached (their replay needs it).</summary>
    public static (string Group, long Resume)[] Resumes(UpgradeDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        return [.. decision.Subscriptions.Where(s => s.Resume is not null).Select(s => (s.Group, s.Resume!.Value))];
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var headers = context.Request.Headers;
        var request = new UpgradeRequest(context.Request.Scheme, context.Request.Host.Value ?? "", headers.Origin.Count > 0 ? headers.Origin.ToString() : null, context.Request.QueryString.Value?.TrimStart('?') ?? "", headers.SecWebSocketKey.ToString());
        if (headers.SecWebSocketVersion.Count > 0 && headers.SecWebSocketVersion.ToString().Trim() != "13")
        {
            // RFC 6455 §4.4: name the version this server speaks.
            context.Response.Headers.SecWebSocketVersion = "13";
            await Results.Problem(statusCode: StatusCodes.Status426UpgradeRequired, title: "Unsupported WebSocket version", detail: "This server speaks WebSocket version 13.").ExecuteAsync(context);
            return;
        }

        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (!HttpMethods.IsGet(context.Request.Method) || upgrade is not { IsUpgradableRequest: true }
            || !WebSocketHandshake.IsUpgrade(headers.Upgrade, headers.Connection, headers.SecWebSocketVersion, request.Key))
        {
            // A browser page from a refused origin learns that first (403), whatever else is wrong.
            var allowed = IsOriginAllowed(request.Scheme, request.Host, request.Origin, context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value);
            await (allowed
                ? Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "WebSocket required", detail: "Open this URL with a WebSocket client.")
                : Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Origin not allowed", detail: "This origin may not open the BookShelf WebSocket.")).ExecuteAsync(context);
            return;
        }

        if (await UpgradeHandler.AcceptAsync(request, new HttpTransport(context, upgrade), context.RequestServices) is { } accepted)
        {
            await accepted.Session.RunAsync(accepted.Resumes);
        }
    }

    /// <summary>The HTTP endpoint's way of answering: problem results, and Kestrel's upgrade feature.</summary>
    private sealed class HttpTransport(HttpContext context, IHttpUpgradeFeature upgrade) : UpgradeHandler.ITransport
    {
        public System.Net.IPAddress? RemoteAddress => context.Connection.RemoteIpAddress;

        public CancellationToken Aborted => context.RequestAborted;

        public Task RefuseAsync(int status, string title, string detail) =>
            Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(context);

        public async Task<(PipeReader Input, FrameOutput Output, Action Abort)?> SwitchAsync(string key)
        {
            context.Response.Headers.Connection = "Upgrade";
            context.Response.Headers.Upgrade = "websocket";
            context.Response.Headers.SecWebSocketAccept = WebSocketHandshake.AcceptKey(key);
            var stream = await upgrade.UpgradeAsync();
            return (PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true, useZeroByteReads: true)),
                new FrameOutput.Pipe(PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true))), context.Abort);
        }
    }

    /// <summary>Scripts send no Origin; browsers do, and it must be the gateway's own or a configured one.</summary>
    internal static bool IsOriginAllowed(string scheme, string host, string? origin, GatewayOptions options)
    {
        if (string.IsNullOrEmpty(origin))
        {
            return true;
        }

        if (options.AllowedOrigins.Length > 0)
        {
            return options.AllowedOrigins.Any(o => string.Equals(o.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase));
        }

        return string.Equals(origin, $"{scheme}://{host}", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Reads <c>presence=1</c> (every group of the URL pushes its presence count) or <c>presence=0</c>; false for anything else.</summary>
    internal static bool TryReadPresence(IQueryCollection query, out bool presence)
    {
        var value = query["presence"].ToString();
        presence = value is "1" or "true";
        return value is "" or "0" or "1" or "true" or "false";
    }

    /// <summary>
    /// Reads <c>groups</c>, <c>resume</c> and <c>uncounted</c> (groups joined for their events only: the connection
    /// does not count in their presence, as a list page watching its posts' counts) from the query; a bare URL
    /// means the site group.
    /// </summary>
    internal static bool TryReadSubscriptions(IQueryCollection query, GatewayOptions options, out List<(string Group, long? Resume)> subscriptions, out HashSet<string> uncounted, out string? error)
    {
        subscriptions = [];
        error = null;
        var groups = query["groups"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
        uncounted = [.. query["uncounted"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
        var named = groups.Count;
        foreach (var group in uncounted)
        {
            if (!groups.Contains(group))
            {
                groups.Add(group);
            }
        }
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

        if (named == 0 && resume.Count == 0)
        {
            // No group named to be in (none at all, or only uncounted ones): the site group, as on a bare URL.
            if (!groups.Contains(Groups.Site))
            {
                groups.Insert(0, Groups.Site);
            }
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

    /// <summary>What a refusal says while this gateway cannot reach the cluster.</summary>
    internal const string ClusterLostDetail = "This gateway cannot reach the cluster right now; connect to another gateway, or try again later.";

    /// <summary>What a refusal by the connection caps says.</summary>
    internal static string CapDetail(int status) => status == StatusCodes.Status429TooManyRequests
        ? "This address holds as many connections as the gateway allows one address; close one first."
        : "This gateway holds as many connections as it allows; try again later, or another gateway.";

    [LoggerMessage(4101, LogLevel.Debug, "WebSocket refused: origin {Origin} not allowed")]
    internal static partial void LogOriginRefused(ILogger logger, string origin);
}
