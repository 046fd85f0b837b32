namespace BookShelf.Gateway.Posts;

/// <summary>
/// Group commit for a busy post, one per gateway: the comments and likes for a post that arrive while this
/// gateway's previous call to that post is running go together in its next call
/// (<see cref="IPostGrain.ApplyAsync"/>: one write, one feed batch), at most <see cref="MaxBatch"/> at a time and
/// one call per post in flight. A quiet post's single change goes at once. Every change carries its request id, so
/// the retry of a batch (through <see cref="GrainCalls"/>) changes nothing twice; each caller gets its own
/// change's result, or the batch's failure.
/// </summary>
public sealed class PostWrites
{
    /// <summary>Changes in one call at most.</summary>
    public const int MaxBatch = 64;

    private readonly Func<long, IReadOnlyList<PostChange>, Task<IReadOnlyList<PostChangeResult>>> _apply;
    private readonly Dictionary<long, List<Waiting>> _posts = [];

    /// <summary>Applies through the cluster, each batch within the gateway's retry budget.</summary>
    public PostWrites(IGrainFactory grains, GrainCalls calls)
        : this((id, changes) => calls.RunAsync(() => grains.GetGrain<IPostGrain>(id).ApplyAsync(changes)))
    {
    }

    /// <summary>Applies with <paramref name="apply"/> (tests).</summary>
    internal PostWrites(Func<long, IReadOnlyList<PostChange>, Task<IReadOnlyList<PostChangeResult>>> apply) => _apply = apply;

    /// <summary>Applies <paramref name="change"/> to post <paramref name="postId"/>; returns what it came to.</summary>
    public Task<PostChangeResult> ApplyAsync(long postId, PostChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var waiting = new Waiting(change, new TaskCompletionSource<PostChangeResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (_posts)
        {
            start = !_posts.TryGetValue(postId, out var queue);
            if (start)
            {
                queue = [];
                _posts[postId] = queue;
            }

            queue!.Add(waiting);
        }

        if (start)
        {
            _ = Task.Run(() => DrainAsync(postId));
        }

        return waiting.Result.Task;
    }

    private async Task DrainAsync(long postId)
    {
        while (true)
        {
            Waiting[] batch;
            lock (_posts)
            {
                var queue = _posts[postId];
                if (queue.Count == 0)
                {
                    _posts.Remove(postId);
                    return;
                }

                var take = Math.Min(queue.Count, MaxBatch);
                batch = [.. queue.GetRange(0, take)];
                queue.RemoveRange(0, take);
            }

            try
            {
                var results = await _apply(postId, [.. batch.Select(w => w.Change)]);
                for (var i = 0; i < batch.Length; i++)
                {
                    batch[i].Result.TrySetResult(results[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var waiting in batch)
                {
                    waiting.Result.TrySetException(ex);
                }
            }
        }
    }

    private readonly record struct Waiting(PostChange Change, TaskCompletionSource<PostChangeResult> Result);
}
