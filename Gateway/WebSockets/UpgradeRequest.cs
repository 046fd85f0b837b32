namespace BookShelf.Gateway.WebSockets;

/// <summary>What the update-notice endpoint needs from an upgrade request, however it arrived.</summary>
/// <param name="Scheme"><c>http</c> or <c>https</c>.</param>
/// <param name="Host">The Host header.</param>
/// <param name="Origin">The Origin header (browsers send it; scripts may not).</param>
/// <param name="Query">The query string without the <c>?</c>.</param>
/// <param name="Key">The Sec-WebSocket-Key header.</param>
public sealed record UpgradeRequest(string Scheme, string Host, string? Origin, string Query, string Key);

/// <summary>
/// The endpoint's answer to an upgrade request: refused with a status and a problem, or accepted with the groups
/// to join (those with a resume seq are resumed after the upgrade, as their replay needs the connection).
/// </summary>
/// <param name="Status">101, 400 or 403.</param>
/// <param name="Title">The problem's title when refused.</param>
/// <param name="Detail">The problem's detail when refused.</param>
/// <param name="Subscriptions">The groups, each with its resume seq if any.</param>
/// <param name="Bare">No <c>groups</c> or <c>resume</c>: the original BookShelf client.</param>
public sealed record UpgradeDecision(int Status, string? Title, string? Detail, IReadOnlyList<(string Group, long? Resume)> Subscriptions, bool Bare, bool Presence = false, IReadOnlySet<string>? Uncounted = null)
{
    /// <summary>Refused.</summary>
    public static UpgradeDecision Refuse(int status, string title, string detail) => new(status, title, detail, [], false);
}
