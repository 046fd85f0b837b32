namespace BookShelf.Grains.Feed;

/// <summary>A full page of a feed's tail: page <see cref="Page"/> holds <see cref="Events"/>, the tail's first.</summary>
internal sealed record FullPage(long Page, List<FeedEvent> Events);

/// <summary>A stored page the head let go of in memory, undone if the head's write fails.</summary>
internal sealed record PageLetGo(long Page, List<FeedEvent> Events, Dictionary<string, long>? IndexedBuckets);

/// <summary>
/// The rules of sealing a feed's pages off the append's path; the <see cref="UpdaterGrain"/> does the storing. Sealing a
/// page is three writes, in order: the page, its keys into the index, then the head without them. The first two touch
/// other grains only, so they run while the feed goes on appending, and an append that fills a page answers once its
/// own head write is stored. The third is the head's: the next append's write lets go of the page
/// (<see cref="TakeStored"/>), or a turn of its own if none comes first. Until the head lets go of a page, its events
/// stay in the tail, where lookups and reads find them: a crash or a failed store anywhere leaves them there, and
/// sealing again writes the same page and keys. One page is stored at a time; a tail that grew past a page meanwhile
/// is sealed page by page. A stored page is let go of only by a head whose tail still starts with exactly its events:
/// a seq, once stored, always names the same event, so a head read again meanwhile (or sealed by another activation)
/// either still holds the page where it was, or it is dropped here and the head's own first page is stored.
/// </summary>
internal sealed class PageSealer
{
    private bool _storing;
    private FullPage? _stored;

    /// <summary>The tail's first full page, to be stored now; null while one is being stored or waits for the head.</summary>
    public FullPage? NextToStore(FeedState head, int pageSize)
    {
        ArgumentNullException.ThrowIfNull(head);
        if (_storing || _stored is not null || head.Tail.Count < pageSize)
        {
            return null;
        }

        _storing = true;
        return new FullPage(head.SealedPages, head.Tail.GetRange(0, pageSize));
    }

    /// <summary>The store of <paramref name="page"/> (its page and index writes) ended; when it succeeded, the head may let go of it.</summary>
    public void StoreEnded(FullPage page, bool succeeded)
    {
        ArgumentNullException.ThrowIfNull(page);
        _storing = false;
        _stored = succeeded ? page : null;
    }

    /// <summary>
    /// Removes the stored page from <paramref name="head"/>'s tail, in memory: the caller writes the head, then calls
    /// <see cref="LetGoStored"/> or, when the write fails, <see cref="Undo"/>. Null when no stored page waits.
    /// </summary>
    public PageLetGo? TakeStored(FeedState head, int pageSize)
    {
        ArgumentNullException.ThrowIfNull(head);
        if (_stored is not { } stored)
        {
            return null;
        }

        if (!StartsWith(head, stored, pageSize))
        {
            // The head was read again and moved on (another activation sealed the page): store its own first page instead.
            _stored = null;
            return null;
        }

        // The head's page size needs nothing here: it was recorded with the feed's first write (UpdaterGrain.UseStoredPageSize).
        var letGo = new PageLetGo(stored.Page, stored.Events, head.IndexedBuckets is { } indexed ? new(indexed, StringComparer.Ordinal) : null);
        head.Tail.RemoveRange(0, pageSize);
        head.SealedPages = stored.Page + 1;
        head.RecordIndexed(stored.Events);
        return letGo;
    }

    /// <summary>The head's write without the page is stored.</summary>
    public void LetGoStored() => _stored = null;

    /// <summary>The head's write without the page failed: puts its events back at the tail's start.</summary>
    public static void Undo(FeedState head, PageLetGo letGo)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(letGo);
        head.Tail.InsertRange(0, letGo.Events);
        head.SealedPages = letGo.Page;
        head.IndexedBuckets = letGo.IndexedBuckets;
    }

    private static bool StartsWith(FeedState head, FullPage page, int pageSize)
    {
        if (head.SealedPages != page.Page || page.Events.Count != pageSize || head.Tail.Count < pageSize)
        {
            return false;
        }

        for (var i = 0; i < pageSize; i++)
        {
            if (head.Tail[i].Seq != page.Events[i].Seq || !string.Equals(head.Tail[i].Key, page.Events[i].Key, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}
