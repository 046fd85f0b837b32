namespace BookShelf.Grains.Feed;

/// <summary>An event key the feed has seen, with the seq it got.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.RecentKey")]
public sealed record RecentKey([property: Id(0)] string Key, [property: Id(1)] long Seq);
