namespace BookShelf.Grains.Feed;

/// <summary>
/// The head of a group's feed: the last seq and the events of the page not yet sealed. Sealed pages live in
/// <see cref="FeedPageGrain"/>s, the keys of their events in <see cref="FeedIndexGrain"/>s.
/// </summary>
[GenerateSerializer, Alias("BookShelf.FeedState")]
public sealed class FeedState
{
    /// <summary>The seq of the newest event; 0 for an empty feed.</summary>
    [Id(0)]
    public long LastSeq { get; set; }

    /// <summary>How many pages are sealed; the tail's first event has seq <c>SealedPages * PageSize + 1</c>.</summary>
    [Id(1)]
    public long SealedPages { get; set; }

    /// <summary>The events after the sealed pages, oldest first.</summary>
    [Id(2)]
    public List<FeedEvent> Tail { get; set; } = [];

    // Id 3 is retired (earlier versions kept recent event keys there); the serializer skips it in stored heads.

    /// <summary>
    /// The size of this feed's pages: once a page is sealed, the size it was sealed with (its events are
    /// <c>LastSeq - Tail.Count = SealedPages * size</c>), whatever <c>Feed:PageSize</c> says now, so an edit of the
    /// setting never moves an event to another page; before that, <paramref name="configured"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The head does not add up to whole pages (it was not written by a feed).</exception>
    public int PageSizeOr(int configured, string group)
    {
        if (SealedPages == 0)
        {
            return configured;
        }

        var sealedEvents = LastSeq - Tail.Count;
        if (sealedEvents < SealedPages || sealedEvents % SealedPages != 0 || sealedEvents / SealedPages > int.MaxValue)
        {
            throw new InvalidOperationException(
                $"The stored head of feed {group} does not add up to whole pages: seq {LastSeq}, {SealedPages} sealed page(s), {Tail.Count} event(s) in the tail.");
        }

        return (int)(sealedEvents / SealedPages);
    }

    /// <summary>Gives <paramref name="feedEvent"/> the next seq and adds it to the tail (in memory; the caller stores).</summary>
    public FeedEvent Stamp(FeedEvent feedEvent, string group)
    {
        var stamped = feedEvent with { Seq = LastSeq + 1, Group = group };
        Tail.Add(stamped);
        LastSeq = stamped.Seq;
        return stamped;
    }

    /// <summary>Undoes the last <paramref name="count"/> <see cref="Stamp"/>s (their write failed).</summary>
    public void Unstamp(int count = 1)
    {
        Tail.RemoveRange(Tail.Count - count, count);
        LastSeq -= count;
    }
}
