using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// Creates posts without activating them: a stateless worker (get it with <see cref="PostCreators.PostCreator"/>), it stores
/// a new post in its <see cref="IPostGrain"/>'s storage and announces it, and the post is activated only when someone
/// reads or changes it. The answers are <see cref="IPostGrain.CreateAsync"/>'s, with the same guarantees.
/// </summary>
[Alias("BookShelf.IPostCreatorGrain")]
public interface IPostCreatorGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Stores post <paramref name="id"/> (a new id from the cluster's id blocks) and returns once it is in the site
    /// feed. A repeat with the same draft (a retry after an unknown outcome) returns the same post and adds nothing;
    /// a different draft for a used id is refused.
    /// </summary>
    [Alias("Create")]
    Task<PostDetails> CreateAsync(long id, PostDraft draft);
}

/// <summary>Where a gateway creates posts.</summary>
public static class PostCreators
{
    /// <summary>
    /// The creator: one key for every post. A client sends every call to one grain id through the same silo (Orleans
    /// buckets a client's calls by grain id), so a gateway's creates all run on one silo, where the site feed
    /// confirmations of all of them batch together and cross to the feed's silo once per batch; gateways pick their
    /// silos independently, and when that silo goes the client routes the key through another. Spreading one gateway's
    /// creates over eight keys (so over the silos) cost 19-73 % more server CPU per post (docs/benchmarks.md).
    /// </summary>
    public static IPostCreatorGrain PostCreator(this IGrainFactory grains)
    {
        ArgumentNullException.ThrowIfNull(grains);
        return grains.GetGrain<IPostCreatorGrain>(0);
    }
}
