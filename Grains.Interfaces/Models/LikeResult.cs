namespace BookShelf.Grains.Interfaces.Models;

/// <summary>The outcome of toggling a like: whether the user now likes the post, and the new count.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.LikeResult")]
public sealed record LikeResult(
    [property: Id(0)] bool Liked,
    [property: Id(1)] int LikeCount);
