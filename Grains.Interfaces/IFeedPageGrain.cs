using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>A sealed, full page of a group's feed, keyed <c>{group}/{page}</c>. Written once by the group's updater.</summary>
[Alias("BookShelf.IFeedPageGrain")]
public interface IFeedPageGrain : IGrainWithStringKey
{
    /// <summary>Stores the page's events (idempotent: the same page is always written with the same events).</summary>
    [Alias("Write")]
    Task WriteAsync(IReadOnlyList<FeedEvent> events);

    /// <summary>The page's events, oldest first (empty if never written).</summary>
    [Alias("Read")]
    Task<IReadOnlyList<FeedEvent>> ReadAsync();
}
