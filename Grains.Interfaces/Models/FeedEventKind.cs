namespace BookShelf.Grains.Interfaces.Models;

/// <summary>What a <see cref="FeedEvent"/> announces.</summary>
[GenerateSerializer, Alias("BookShelf.FeedEventKind")]
public enum FeedEventKind
{
    /// <summary>A new post (site-wide group).</summary>
    PostCreated = 0,

    /// <summary>A new comment on a post (that post's group).</summary>
    CommentAdded = 1,

    /// <summary>A post's like count changed (that post's group).</summary>
    LikeChanged = 2,
}
