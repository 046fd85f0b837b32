using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace BookShelf.Gateway.Pages;

/// <summary>The post list, newest first; on the first page new posts appear live.</summary>
public sealed class IndexModel(PostService posts) : PageModel
{
    /// <summary>Show posts older than this site seq (paging).</summary>
    [BindProperty(SupportsGet = true)]
    public long? Before { get; set; }

    /// <summary>The posts shown.</summary>
    public PostPage Posts { get; private set; } = new([], null);

    /// <summary>The site seq the list is complete up to; the live script resumes from it.</summary>
    public long LastSeq { get; private set; }

    /// <summary>Loads the page.</summary>
    public async Task OnGetAsync()
    {
        // The position and the list from one source: anything newer than it is replayed by the live script, never missed.
        (Posts, LastSeq) = await posts.ListFromAsync(Math.Max(0, Before ?? 0), 20);
    }
}
