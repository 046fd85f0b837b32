using System.Globalization;

namespace BookShelf.Grains.Interfaces.Models;

/// <summary>
/// One entry of a group's feed. <see cref="Seq"/> is 0 until the group's <c>UpdaterGrain</c> assigns it;
/// <see cref="Key"/> identifies the fact (a post, a comment, one like change) so appends are idempotent.
/// Build events with the factories (<see cref="PostCreated"/>, <see cref="CommentAdded"/>,
/// <see cref="LikeChanged"/>): they own the groups and the key formats.
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
    [property: Id(10)] DateTimeOffset At)
{
    /// <summary>A new post, announced to the site group; key <c>post:{id}</c>.</summary>
    public static FeedEvent PostCreated(long postId, string title, string author, DateTimeOffset at, string? excerpt = null) =>
        new(0, Groups.Site, FeedEventKind.PostCreated, string.Create(CultureInfo.InvariantCulture, $"post:{postId}"), postId, title, author, excerpt, 0, 0, at);

    /// <summary>A new comment, announced to its post's group; key <c>comment:{post}:{comment}</c>.</summary>
    public static FeedEvent CommentAdded(long postId, long commentId, string author, string text, int likeCount, DateTimeOffset at) =>
        new(0, Groups.ForPost(postId), FeedEventKind.CommentAdded, string.Create(CultureInfo.InvariantCulture, $"comment:{postId}:{commentId}"), postId, null, author, text, commentId, likeCount, at);

    /// <summary>The <paramref name="change"/>-th change of a post's likes, announced to its group; key <c>like:{post}:{change}</c>.</summary>
    public static FeedEvent LikeChanged(long postId, long change, string user, int likeCount, DateTimeOffset at) =>
        new(0, Groups.ForPost(postId), FeedEventKind.LikeChanged, string.Create(CultureInfo.InvariantCulture, $"like:{postId}:{change}"), postId, null, user, null, 0, likeCount, at);
}
