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
    /// The size of this feed's pages, recorded with its first write (before any page is stored); 0 in heads stored by
    /// versions that recorded it only with the first sealed page, or not at all (<see cref="PageSizeOr"/> works it out for those).
    /// </summary>
    [Id(4)]
    public int PageSize { get; set; }

    /// <summary>
    /// The highest index bucket number of each key source whose keys went into the index (<see cref="AppendedKeys.BucketOf"/>:
    /// <c>post</c> → 482 for bucket <c>post/482</c>), recorded in the same write that lets the tail go of a sealed page. A
    /// key in a higher bucket is in no sealed page (a page's keys leave the tail only with this write), so looking it up
    /// needs no read of the index. Null in heads whose pages were sealed by versions that did not record it: those read
    /// the index for every bucket they do not hold (<see cref="StartRecordingIndexedBuckets"/>).
    /// </summary>
    [Id(5)]
    public Dictionary<string, long>? IndexedBuckets { get; set; }

    /// <summary>
    /// Starts recording <see cref="IndexedBuckets"/> in a head that has sealed nothing yet (a new feed, or one from an
    /// earlier version with no sealed page): nothing of it is in the index but what its tail still holds.
    /// </summary>
    public void StartRecordingIndexedBuckets()
    {
        if (IndexedBuckets is null && SealedPages == 0)
        {
            IndexedBuckets = new(StringComparer.Ordinal);
        }
    }

    /// <summary>True when <paramref name="bucket"/> is known to hold no key of a sealed page: its number is above every indexed one of its source.</summary>
    public bool IndexHasNo(string bucket) =>
        IndexedBuckets is { } indexed
        && AppendedKeys.TryNumbered(bucket, out var source, out var number)
        && (!indexed.TryGetValue(source, out var highest) || number > highest);

    /// <summary>Records that the keys of <paramref name="page"/> are in the index.</summary>
    public void RecordIndexed(IEnumerable<FeedEvent> page)
    {
        if (IndexedBuckets is not { } indexed)
        {
            return;
        }

        foreach (var e in page)
        {
            if (AppendedKeys.TryNumbered(AppendedKeys.BucketOf(e.Key), out var source, out var number)
                && (!indexed.TryGetValue(source, out var highest) || number > highest))
            {
                indexed[source] = number;
            }
        }
    }

    /// <summary>
    /// The size of this feed's pages: once recorded, that size, whatever <c>Feed:PageSize</c> says now, so an edit of
    /// the setting never moves an event to another page, even one stored while its head had not yet let go of it; before
    /// that, <paramref name="configured"/>. A head without a recorded size gets the one its counts imply (its sealed events
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
