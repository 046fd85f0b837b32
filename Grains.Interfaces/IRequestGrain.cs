using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// One <c>Idempotency-Key</c> of one user, keyed <c>{user}/{key}</c> (the user name lower-cased). It records
/// which request the key was first used for and which post that request targets, before the post is touched;
/// the post's own idempotence by id (creates) or by request id (comments) then makes any number of repeats
/// change nothing twice, even when the first attempt's outcome was never known.
/// </summary>
[Alias("BookShelf.IRequestGrain")]
public interface IRequestGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the post of this key's first request, with <paramref name="newId"/> when the key is new; a repeat
    /// returns the first post as its create answered it. A different draft throws <see cref="IdempotencyKeyReusedException"/>.
    /// </summary>
    [Alias("CreatePost")]
    Task<PostDetails> CreatePostAsync(PostDraft draft, long newId);

    /// <summary>
    /// Adds this key's comment to <paramref name="postId"/>, once; a repeat returns that comment (the key stores its id,
    /// and only then lets the post forget the key's request id). A different request throws <see cref="IdempotencyKeyReusedException"/>.
    /// </summary>
    [Alias("AddComment")]
    Task<CommentDetails> AddCommentAsync(long postId, string author, string text);
}
