using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// Creates posts without activating them: one per silo (a stateless worker, key 0), it stores a new post in its
/// <see cref="IPostGrain"/>'s storage and announces it, and the post is activated only when someone reads or changes
/// it. The answers are <see cref="IPostGrain.CreateAsync"/>'s, with the same guarantees.
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
