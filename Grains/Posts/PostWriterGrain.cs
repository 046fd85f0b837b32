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
    private IdBlockAllocator? _ids;

    /// <inheritdoc />
    public async Task<PostDetails> CreatePostAsync(PostDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        if (PostRules.Validate(draft) is { } invalid)
        {
            throw invalid;
        }

        _ids ??= new IdBlockAllocator(
            size => GrainFactory.GetGrain<IIdBlockGrain>(StorageNames.PostIdSequence).ReserveAsync(size), options.Value.IdBlockSize);
        var id = await _ids.NextAsync();
        return await GrainFactory.GetGrain<IPostGrain>(id).CreateAsync(draft);
    }
}
