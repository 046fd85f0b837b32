using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// The entry point for new posts: allocates a cluster-unique id from a locally held block (so no single
/// grain sees every create) and creates the <see cref="IPostGrain"/>. Use key 0.
/// </summary>
[Alias("BookShelf.IPostWriterGrain")]
public interface IPostWriterGrain : IGrainWithIntegerKey
{
    /// <summary>Creates a post with a fresh id; returns it once it is stored and in the site feed.</summary>
    [Alias("CreatePost")]
    Task<PostDetails> CreatePostAsync(PostDraft draft);
}
