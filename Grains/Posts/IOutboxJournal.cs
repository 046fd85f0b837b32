namespace BookShelf.Grains.Posts;

/// <summary>
/// The durable list of post events stored but not yet confirmed by their feeds: what lets a silo find a post
/// whose silo died between storing a change and confirming its event, without anyone reading that post.
/// A post marks an event before it stores it and settles it once its feed confirmed it; the
/// <see cref="OutboxSweeper"/> of every silo looks for events left pending too long.
/// </summary>
public interface IOutboxJournal
{
    /// <summary>Marks events of a post pending; returns once that is durable. A second mark keeps the first time.</summary>
    Task MarkPendingAsync(long postId, IReadOnlyList<string> eventKeys);

    /// <summary>Forgets confirmed events of a post (one command). Fire and forget: an entry left behind is removed by the next sweep.</summary>
    void MarkSettled(long postId, IReadOnlyList<string> eventKeys);

    /// <summary>Which of <paramref name="eventKeys"/> of the post are marked pending now.</summary>
    Task<IReadOnlySet<string>> PendingAsync(long postId, IReadOnlyList<string> eventKeys);

    /// <summary>Events marked before <paramref name="markedBefore"/>, oldest first, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<PendingEvent>> DueAsync(DateTimeOffset markedBefore, int max);

    /// <summary>Removes entries whose events are confirmed (or were never stored).</summary>
    Task RemoveAsync(IReadOnlyList<PendingEvent> entries);

    /// <summary>Moves entries that could not be settled to the back (marked now), so they do not hold up the others.</summary>
    Task PostponeAsync(IReadOnlyList<PendingEvent> entries);
}

/// <summary>An entry of the <see cref="IOutboxJournal"/>.</summary>
public readonly record struct PendingEvent(long PostId, string EventKey);
