namespace BookShelf.Gateway.Feed;

/// <summary>
/// A local subscriber of a group (a WebSocket connection, or a test). Called in seq order, never with a seq
/// twice per subscription; calls must return quickly and never block.
/// </summary>
public interface IFeedListener
{
    /// <summary>The group's next event, with its frame encoded once for every listener on this node.</summary>
    void OnEvent(FeedFrame frame);

    /// <summary>
    /// The next missed event while this listener catches up after a resume. May wait for room (backpressure):
    /// only this listener waits; live events meanwhile are held for it and follow in order.
    /// </summary>
    ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken);

    /// <summary>
    /// The listener is live: it has every event up to <paramref name="lastSeq"/> (replayed or not asked for), and
    /// later events follow.
    /// </summary>
    void OnSubscribed(string group, long lastSeq);

    /// <summary>
    /// The feed cannot replay what this listener missed: it should reload the group's data. Events after
    /// <paramref name="lastSeq"/> follow.
    /// </summary>
    void OnReset(string group, long lastSeq);
}
