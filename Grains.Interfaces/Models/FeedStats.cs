namespace BookShelf.Grains.Interfaces.Models;

/// <summary>A snapshot of a group's feed: the last seq and how many gateway nodes hold a live lease.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.FeedStats")]
public sealed record FeedStats(
    [property: Id(0)] long LastSeq,
    [property: Id(1)] int Subscribers);
