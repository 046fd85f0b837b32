using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// Ids for new posts, from blocks this gateway reserves from the cluster's <see cref="IIdBlockGrain"/> (one call
/// per <see cref="GatewayOptions.PostIdBlockSize"/> posts). The id is chosen before the post grain is called,
/// so a create whose outcome is unknown can be retried against the same post: creating is idempotent by id.
/// Ids a gateway never uses (it stopped) are simply skipped.
/// </summary>
public sealed class PostIds
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly IdBlockAllocator _allocator;

    /// <summary>Creates the allocator; reservations go through <paramref name="calls"/> (retried within the budget).</summary>
    public PostIds(IGrainFactory grains, GrainCalls calls, IOptions<GatewayOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var size = options.Value.PostIdBlockSize;
        _allocator = new IdBlockAllocator(
            count => calls.RunAsync(() => grains.GetGrain<IIdBlockGrain>(IdBlockKeys.Posts).ReserveAsync(count)), size);
    }

    /// <summary>The next id.</summary>
    public async Task<long> NextAsync()
    {
        await _gate.WaitAsync();
        try
        {
            return await _allocator.NextAsync();
        }
        finally
        {
            _gate.Release();
        }
    }
}
