namespace BookShelf.Grains.Posts;

/// <summary>A post as stored: content, likes, comments, and the outbox of events not yet confirmed by their feeds.</summary>
[GenerateSerializer, Alias("BookShelf.PostState")]
public sealed class PostState
{
    /// <summary>False until the post is created.</summary>
    [Id(0)] public bool Exists { get; set; }

    /// <summary>The author's user name.</summary>
    [Id(1)] public string Author { get; set; } = "";

    /// <summary>The title.</summary>
    [Id(2)] public string Title { get; set; } = "";

    /// <summary>The body.</summary>
    [Id(3)] public string Body { get; set; } = "";

    /// <summary>When it was created.</summary>
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Users who like the post (lower-cased names).</summary>
    [Id(5)] public HashSet<string> Likers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The open page of comments (after the sealed ones), oldest first; see <see cref="PostComments"/>.</summary>
    [Id(6)] public List<CommentDetails> Comments { get; set; } = [];

    /// <summary>Pages of comments sealed into <see cref="CommentPageGrain"/>s.</summary>
    [Id(11)] public long SealedCommentPages { get; set; }

    /// <summary>Counts every like change, so each change's event has its own key.</summary>
    [Id(7)] public long LikeChanges { get; set; }

    /// <summary>Events stored with the change that raised them and not yet confirmed by their group's feed.</summary>
    [Id(8)] public List<FeedEvent> Outbox { get; set; } = [];

    /// <summary>Comment requests already carried out (request id to comment id): a retried request adds nothing.</summary>
    [Id(9)] public Dictionary<string, long> CommentRequests { get; set; } = new(StringComparer.Ordinal);

    // Id 10 is retired (earlier: each user's one last like request).

    /// <summary>
    /// <c>Idempotency-Key</c> request ids in <see cref="CommentRequests"/> whose keys now hold their comments, with when
    /// (unix seconds) they let go: each leaves the post once a late copy of its request can no longer arrive.
    /// </summary>
    [Id(13)] public Dictionary<string, long> LetGoCommentRequests { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Each user's last few like requests and their answers (lower-cased name, newest last): a retried toggle does
    /// not toggle again, even after the same user toggled from another tab meanwhile.
    /// </summary>
    [Id(12)] public Dictionary<string, List<LastLike>> LikeRequests { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>A user's last like request and what it answered.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.LastLike")]
public sealed record LastLike([property: Id(0)] string RequestId, [property: Id(1)] bool Liked, [property: Id(2)] int LikeCount);
