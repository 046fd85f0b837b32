namespace BookShelf.Grains.Interfaces.Models;

/// <summary>A comment on a post.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.CommentDetails")]
public sealed record CommentDetails(
    [property: Id(0)] long Id,
    [property: Id(1)] long PostId,
    [property: Id(2)] string Author,
    [property: Id(3)] string Text,
    [property: Id(4)] DateTimeOffset CreatedAt);
