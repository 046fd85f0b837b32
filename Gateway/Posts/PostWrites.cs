using BookShelf.Grains.Interfaces.Batching;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// Group commit for a busy post, one per gateway: the comments and likes for a post that arrive while this
/// gateway's previous call to that post is running go together in its next call
/// (<see cref="IPostGrain.ApplyAsync"/>: one write, one feed batch), at most <see cref="MaxBatch"/> at a time and
/// one call per post in flight. A quiet post's single change goes at once. Every change carries its request id, so
/// the retry of a batch (through <see cref="GrainCalls"/>) changes nothing twice; each caller gets its own
/// change's result, or the batch's failure. The batching itself is <see cref="KeyedBatcher{TKey, TItem, TResult}"/>.
/// </summary>
public sealed class PostWrites
{
    /// <summary>Changes in one call at most.</summary>
    public const int MaxBatch = 64;

    private readonly KeyedBatcher<long, PostChange, PostChangeResult> _batches;

    /// <summary>Applies through the cluster, each batch within the gateway's retry budget.</summary>
    public PostWrites(IGrainFactory grains, GrainCalls calls)
        : this((id, changes) => calls.RunAsync(() => grains.GetGrain<IPostGrain>(id).ApplyAsync(changes)))
    {
    }

    /// <summary>Applies with <paramref name="apply"/> (tests).</summary>
    internal PostWrites(Func<long, IReadOnlyList<PostChange>, Task<IReadOnlyList<PostChangeResult>>> apply) => _batches = new(apply, MaxBatch);

    /// <summary>Applies <paramref name="change"/> to post <paramref name="postId"/>; returns what it came to.</summary>
    public async Task<PostChangeResult> ApplyAsync(long postId, PostChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        return (await _batches.SubmitAsync(postId, [change]))[0];
    }
}
