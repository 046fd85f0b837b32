using BookShelf.Grains.Interfaces.Models;

namespace BookShelf.Grains.Interfaces;

/// <summary>A sealed, full page of a post's comments, keyed <c>{post}/{page}</c>. Written by the post, read by readers of old comments.</summary>
[Alias("BookShelf.ICommentPageGrain")]
public interface ICommentPageGrain : IGrainWithStringKey
{
    /// <summary>Stores the page (idempotent: a page is always sealed with the same comments).</summary>
    [Alias("Write")]
    Task WriteAsync(IReadOnlyList<CommentDetails> comments);

    /// <summary>The page's comments, oldest first (empty if never written).</summary>
    [Alias("Read")]
    Task<IReadOnlyList<CommentDetails>> ReadAsync();
}
