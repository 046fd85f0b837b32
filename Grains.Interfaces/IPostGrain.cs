using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// One post, keyed by its id: its text, likes and comments, stored durably. Every change is acknowledged only
/// once it is stored and its event is in the feed of the group it notifies.
/// </summary>
[Alias("BookShelf.IPostGrain")]
public interface IPostGrain : IGrainWithIntegerKey
{
    /// <summary>Stores the post (idempotent for the same draft) and announces it to the site group.</summary>
    [Alias("Create")]
    Task<PostDetails> CreateAsync(PostDraft draft);

    /// <summary>The post, or null when no post has this id.</summary>
    [Alias("Get")]
    Task<PostDetails?> GetAsync();

    /// <summary>The post's like and comment counts (what a list shows), or null when no post has this id.</summary>
    [Alias("GetCounts"), Orleans.Concurrency.ReadOnly]
    Task<PostCounts?> GetCountsAsync();

    /// <summary>Comments with ids after <paramref name="afterId"/>, oldest first, at most <paramref name="max"/> (up to <see cref="PostRules.MaxCommentsPerRead"/>).</summary>
    [Alias("GetComments")]
    Task<IReadOnlyList<CommentDetails>> GetCommentsAsync(long afterId, int max);

    /// <summary>The last <paramref name="max"/> comments with ids before <paramref name="beforeId"/> (0: the newest), oldest first.</summary>
    [Alias("GetLatestComments")]
    Task<IReadOnlyList<CommentDetails>> GetLatestCommentsAsync(long beforeId, int max);

    /// <summary>
    /// Adds a comment and announces it to the post's group. A second call with the same
    /// <paramref name="requestId"/> (a retry) returns the first comment and adds nothing.
    /// </summary>
    [Alias("AddComment")]
    Task<CommentDetails> AddCommentAsync(string author, string text, string requestId);

    /// <summary>
    /// Lets the post forget an <c>Idempotency-Key</c>'s comment request id once the key itself holds the comment it made
    /// (a repeat of the key reads the comment back instead of asking to add it): the post rewrites every request id it
    /// holds with each change. The id stays until a late copy of the key's first attempt can no longer arrive (the
    /// post's request retry window), and the mark goes with the post's next write.
    /// </summary>
    [Orleans.Concurrency.OneWay, Alias("ForgetCommentRequest")]
    Task ForgetCommentRequestAsync(string requestId);

    /// <summary>
    /// Likes the post for <paramref name="user"/>, or takes the like back; announces the new count. A second call
    /// with the user's last <paramref name="requestId"/> (a retry) returns the same answer and toggles nothing.
    /// </summary>
    [Alias("ToggleLike")]
    Task<LikeResult> ToggleLikeAsync(string user, string requestId);

    /// <summary>
    /// Applies several readers' comments and likes in order, stored together in one write (with their events)
    /// and confirmed with the post's feed as one batch; acknowledged once all are. A refused change (see
    /// <see cref="PostChangeResult"/>) changes nothing and the others still apply; a change whose request id was
    /// already applied is answered again. Throws <see cref="BookShelfNotFoundException"/> for an unknown post.
    /// </summary>
    [Alias("Apply")]
    Task<IReadOnlyList<PostChangeResult>> ApplyAsync(IReadOnlyList<PostChange> changes);

    /// <summary>Whether <paramref name="user"/> likes the post.</summary>
    [Alias("Likes")]
    Task<bool> LikesAsync(string user);

    /// <summary>
    /// For the outbox sweep: reads the post from storage (never trusting this activation's memory), confirms every
    /// stored event still waiting for its feed, and, in the same turn, removes from the outbox journal those of
    /// <paramref name="journalKeys"/> that are not waiting any more. True when nothing is left waiting.
    /// </summary>
    [Alias("SettleJournal")]
    Task<bool> SettleAsync(IReadOnlyList<string> journalKeys);
}
