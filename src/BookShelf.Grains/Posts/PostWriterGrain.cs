using Orleans.Concurrency;

namespace BookShelf.Grains.Posts;

/// <summary>
/// Creates posts with cluster-unique ids. Each activation (there are several per silo) holds a block of ids
/// reserved from the <see cref="IIdBlockGrain"/>, so that grain is called once per block, not once per post.
/// Ids are unique and increasing per block, not globally ordered; the site feed's seq is the order of posts.
/// </summary>
[StatelessWorker, Reentrant]
public sealed class PostWriterGrain(IOptions<FeedOptions> options) : Grain, IPostWriterGrain
{
    private long _next;
    private long _end;
    private Task? _refill;

    /// <inheritdoc />
    public async Task<PostDetails> CreatePostAsync(PostDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        if (PostRules.Validate(draft) is { } invalid)
        {
            throw invalid;
        }

        var id = await NextIdAsync();
        return await GrainFactory.GetGrain<IPostGrain>(id).CreateAsync(draft);
    }

    private async ValueTask<long> NextIdAsync()
    {
        // Reentrant, but turns never overlap: only the awaits interleave, so plain fields are safe.
        while (_next >= _end)
        {
            _refill ??= RefillAsync();
            await _refill;
        }

        return _next++;
    }

    private async Task RefillAsync()
    {
        try
        {
            var size = options.Value.IdBlockSize;
            var first = await GrainFactory.GetGrain<IIdBlockGrain>(StorageNames.PostIdSequence).ReserveAsync(size);
            _next = first;
            _end = first + size;
        }
        finally
        {
            _refill = null;
        }
    }
}
