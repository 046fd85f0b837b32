namespace BookShelf.Grains.Interfaces.Models;

/// <summary>A stored post as readers see it.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.PostDetails")]
public sealed record PostDetails(
    [property: Id(0)] long Id,
    [property: Id(1)] string Author,
    [property: Id(2)] string Title,
    [property: Id(3)] string Body,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] int LikeCount,
    [property: Id(6)] int CommentCount);
