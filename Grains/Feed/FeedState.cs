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
    /// The size this feed's pages were sealed with, set when it seals its first; 0 before that, and in heads stored by
    /// versions that did not record it (<see cref="PageSizeOr"/> works it out for those).
    /// </summary>
    [Id(4)]
    public int PageSize { get; set; }

    /// <summary>
    /// The size of this feed's pages: once a page is sealed, the size it was sealed with, whatever <c>Feed:PageSize</c>
    /// says now, so an edit of the setting never moves an event to another page; before that,
    /// <paramref name="configured"/>. A head without a recorded size gets the one its counts imply (its sealed events
    /// are <c>LastSeq - Tail.Count = SealedPages * size</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The head does not add up to whole pages of its size (it was not written by a feed).</exception>
    public int PageSizeOr(int configured, string group)
    {
        if (SealedPages == 0)
        {
            return PageSize > 0 ? PageSize : configured;
        }

        var sealedEvents = LastSeq - Tail.Count;
        var size = PageSize > 0 ? PageSize : sealedEvents / SealedPages;
        if (size < 1 || size > int.MaxValue || sealedEvents != SealedPages * size)
        {
            throw new InvalidOperationException(
                $"The stored head of feed {group} does not add up to whole pages: seq {LastSeq}, {SealedPages} sealed page(s)" +
                $"{(PageSize > 0 ? $" of {PageSize}" : "")}, {Tail.Count} event(s) in the tail.");
        }

        return (int)size;
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
