namespace BookShelf.Grains.Feed;

/// <summary>
/// The head of a group's feed: the last seq and the events of the page not yet sealed. Sealed pages live in
/// <see cref="FeedPageGrain"/>s.
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

    /// <summary>
    /// Unused: earlier versions stored recent event keys here. The feed now rebuilds its dedup keys from the
    /// stored events on activation; the id stays reserved so stored state keeps reading.
    /// </summary>
    [Id(3)]
    public List<RecentKey> RecentKeys { get; set; } = [];
}
