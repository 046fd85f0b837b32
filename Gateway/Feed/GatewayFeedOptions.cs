using System.ComponentModel.DataAnnotations;

namespace BookShelf.Gateway.Feed;

/// <summary>How this gateway node keeps its group subscriptions (configuration section <c>Gateway:Feed</c>).</summary>
public sealed class GatewayFeedOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Gateway:Feed";

    /// <summary>How often each subscription is renewed; keep it well under the silos' <c>Feed:LeaseDuration</c>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Nice value added to the threads that write events to sockets (0–19; Linux). Fan-out then yields the cores
    /// to request handling on a busy node, so creating a post stays fast while a big fan-out runs.
    /// </summary>
    [Range(0, 19)]
    public int FanOutNice { get; set; } = 5;

    /// <summary>Events fetched per feed read when filling a gap or replaying.</summary>
    [Range(1, 10_000)]
    public int ReadBatch { get; set; } = 256;
}
