namespace BookShelf.Grains.Interfaces.Models;

/// <summary>
/// One entry of a group's feed. <see cref="Seq"/> is 0 until the group's <c>UpdaterGrain</c> assigns it;
/// <see cref="Key"/> identifies the fact (a post, a comment, one like change) so appends are idempotent.
/// </summary>
[GenerateSerializer, Immutable, Alias("BookShelf.FeedEvent")]
public sealed record FeedEvent(
    [property: Id(0)] long Seq,
    [property: Id(1)] string Group,
    [property: Id(2)] FeedEventKind Kind,
    [property: Id(3)] string Key,
    [property: Id(4)] long PostId,
    [property: Id(5)] string? Title,
    [property: Id(6)] string? Author,
    [property: Id(7)] string? Text,
    [property: Id(8)] long CommentId,
    [property: Id(9)] int LikeCount,
    [property: Id(10)] DateTimeOffset At);
