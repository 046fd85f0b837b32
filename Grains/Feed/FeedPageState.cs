namespace BookShelf.Grains.Feed;

/// <summary>A sealed page of a feed.</summary>
[GenerateSerializer, Alias("BookShelf.FeedPageState")]
public sealed class FeedPageState
{
    /// <summary>The page's events, oldest first.</summary>
    [Id(0)]
    public List<FeedEvent> Events { get; set; } = [];
}
