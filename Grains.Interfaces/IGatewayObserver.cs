using Orleans.Concurrency;
using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// A gateway node's single observer: receives each group's new events, at most once and possibly out of
/// order; the gateway orders them by seq and fills gaps from the feed.
/// </summary>
[Alias("BookShelf.IGatewayObserver")]
public interface IGatewayObserver : IGrainObserver
{
    /// <summary>New events of <paramref name="group"/>, in seq order within the batch.</summary>
    [OneWay, Alias("OnEvents")]
    Task OnEventsAsync(string group, IReadOnlyList<FeedEvent> events);
}
