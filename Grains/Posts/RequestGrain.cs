using System.Security.Cryptography;
using System.Text;

namespace BookShelf.Grains.Posts;

/// <summary>
/// One <c>Idempotency-Key</c> of one user (see <see cref="IRequestGrain"/>). The key's first use is stored
/// before the post is called, so a repeat after any failure goes to the same post with the same request:
/// the post's create is idempotent by id, its comments by request id.
/// </summary>
public sealed class RequestGrain(
    [PersistentState("request", StorageNames.Requests)] IPersistentState<RequestState> state) : Grain, IRequestGrain
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
        return await GrainFactory.GetGrain<IPostGrain>(postId).AddCommentAsync(author, text, RequestId);
    }

    /// <summary>The request id the post sees: the same for every repeat of this key.</summary>
    private string RequestId => "key:" + this.GetPrimaryKeyString();

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
}
