namespace BookShelf.Grains.Interfaces.Models;

/// <summary>What a list of posts shows of each beside its title: its like and comment counts.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.PostCounts")]
public sealed record PostCounts(
    [property: Id(0)] int LikeCount,
    [property: Id(1)] int CommentCount);
