namespace BookShelf.Grains.Feed;

/// <summary>One bucket of a feed's index of sealed event keys.</summary>
[GenerateSerializer, Alias("BookShelf.FeedIndexState")]
public sealed class FeedIndexState
{
    /// <summary>Keys of sealed events in this bucket, with their seqs.</summary>
    [Id(0)]
    public Dictionary<string, long> Keys { get; set; } = new(StringComparer.Ordinal);
}
