using System.Security.Cryptography;
using System.Text;

namespace BookShelf.Grains.Posts;

/// <summary>
/// One <c>Idempotency-Key</c> of one user (see <see cref="IRequestGrain"/>). The key's first use is stored
/// before the post is called, so a repeat after any failure goes to the same post with the same request:
/// the post's create is idempotent by id, its comments by request id.
/// </summary>
public sealed partial class RequestGrain(
    [PersistentState("request", StorageNames.Requests)] IPersistentState<RequestState> state,
    ILogger<RequestGrain> logger) : Grain, IRequestGrain
{
    /// <inheritdoc />
    public async Task<PostDetails> CreatePostAsync(PostDraft draft, long newId)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var postId = await RecordAsync(Fingerprint("post", 0, draft.Author, draft.Title, draft.Body), newId);
        return await GrainFactory.PostCreator().CreateAsync(postId, draft);
    }

    /// <inheritdoc />
    public async Task<CommentDetails> AddCommentAsync(long postId, string author, string text)
    {
        await RecordAsync(Fingerprint("comment", postId, author, text, ""), postId);
        var post = GrainFactory.GetGrain<IPostGrain>(postId);
        if (state.State.CommentId is > 0 and var made)
        {
            // A repeat: the comment this key made, read back (comments are never removed). The post is told again that
            // it may let the key's request id go, in case it lost the first word with an activation.
            var comment = (await post.GetCommentsAsync(made - 1, 1)) is [var known] && known.Id == made
                ? known
                : throw new InvalidOperationException($"Post {postId} does not show comment {made} yet.");
            await post.ForgetCommentRequestAsync(RequestId);
            return comment;
        }

        var added = await post.AddCommentAsync(author, text, RequestId);
        await RememberCommentAsync(post, added.Id);
        return added;
    }

    /// <summary>The request id the post sees: the same for every repeat of this key.</summary>
    private string RequestId => RequestIds.KeyPrefix + this.GetPrimaryKeyString();

    /// <summary>
    /// Stores the comment this key made, then lets the post forget the key's request id. When the store fails, the
    /// post keeps the id, so a repeat still gets this comment from it.
    /// </summary>
    private async Task RememberCommentAsync(IPostGrain post, long commentId)
    {
        state.State.CommentId = commentId;
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Unknown whether it was stored: read it again on the next repeat, and ask the post, which still knows.
            state.State.CommentId = 0;
            DeactivateOnIdle();
            LogCommentNotRemembered(logger, ex, this.GetPrimaryKeyString(), commentId);
            return;
        }

        await post.ForgetCommentRequestAsync(RequestId);
    }

    /// <summary>Stores the key's first request; returns the post it targets. A different request with a used key is refused.</summary>
    private async Task<long> RecordAsync(string fingerprint, long postId)
    {
        var request = state.State;
        if (request.Fingerprint.Length > 0)
        {
            return request.Fingerprint == fingerprint
                ? request.PostId
                : throw new IdempotencyKeyReusedException("This Idempotency-Key was already used for a different request.");
        }

        request.Fingerprint = fingerprint;
        request.PostId = postId;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Unknown whether it was stored: read it again on the next attempt.
            state.State = new RequestState();
            DeactivateOnIdle();
            throw;
        }

        return postId;
    }

    private static string Fingerprint(string operation, long target, string author, string first, string second)
    {
        var text = string.Join('\n', operation, target.ToString(System.Globalization.CultureInfo.InvariantCulture), author, first, second);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    [LoggerMessage(2301, LogLevel.Warning, "Idempotency key {Key} could not store its comment {CommentId}; the post keeps the key's request id")]
    private static partial void LogCommentNotRemembered(ILogger logger, Exception exception, string key, long commentId);
}
