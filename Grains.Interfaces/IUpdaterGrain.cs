using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// One group's durable feed and fan-out, keyed by group name. Assigns each event the group's next seq
/// (1, 2, 3, ...), stores it before telling anyone, then sends it with one call per subscribed gateway node.
/// </summary>
[Alias("BookShelf.IUpdaterGrain")]
public interface IUpdaterGrain : IGrainWithStringKey
{
    /// <summary>
    /// Appends an event unless one with the same key is already in the feed, however long ago; returns its seq
    /// either way. Returns once the event is stored.
    /// </summary>
    [Alias("Append")]
    Task<long> AppendAsync(FeedEvent feedEvent);

    /// <summary>
    /// Appends several events of this group in one storage write (group commit), each unless its key is already
    /// in the feed; returns their seqs in the same order. Returns once all are stored; throws, having stored
    /// none, when the write fails.
    /// </summary>
    [Alias("AppendBatch")]
    Task<IReadOnlyList<long>> AppendBatchAsync(IReadOnlyList<FeedEvent> events);

    /// <summary>
    /// Subscribes a gateway node, or renews its lease. Returns the group's last seq: every later event is
    /// pushed to the observer while the lease lasts.
    /// </summary>
    [Alias("Subscribe")]
    Task<long> SubscribeAsync(IGatewayObserver observer);

    /// <summary>Ends a gateway node's subscription.</summary>
    [Alias("Unsubscribe")]
    Task UnsubscribeAsync(IGatewayObserver observer);

    /// <summary>Events after <paramref name="afterSeq"/>, oldest first, at most <paramref name="max"/>.</summary>
    [Alias("Read")]
    Task<FeedRead> ReadAsync(long afterSeq, int max);

    /// <summary>
    /// A gateway node's own catch-up: events after <paramref name="afterSeq"/>, at most <paramref name="max"/>, however
    /// far back (never a reset). Its connections were live all along; that the node itself lagged (a slow read under
    /// load, a lapsed lease) must not make them reload. The replay limit is for clients resuming from long ago.
    /// </summary>
    [Alias("ReadGap")]
    Task<FeedRead> ReadGapAsync(long afterSeq, int max);

    /// <summary>Events before <paramref name="beforeSeq"/> (0: from the newest), newest first, at most <paramref name="max"/>.</summary>
    [Alias("ReadLatest")]
    Task<IReadOnlyList<FeedEvent>> ReadLatestAsync(long beforeSeq, int max);

    /// <summary>The last seq and the number of gateway nodes with a live lease (expired leases are dropped first).</summary>
    [Alias("GetStats")]
    Task<FeedStats> GetStatsAsync();
}
