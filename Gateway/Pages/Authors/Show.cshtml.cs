using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace BookShelf.Gateway.Pages.Authors;

/// <summary>One author's posts, newest first, with "older posts" paging; counts stay live.</summary>
public sealed class ShowModel(PostService posts) : PageModel
{
    /// <summary>The author's user name, from the route.</summary>
    [BindProperty(SupportsGet = true)]
    public string Name { get; set; } = "";

    /// <summary>Show posts older than this site seq (paging).</summary>
    [BindProperty(SupportsGet = true)]
    public long? Before { get; set; }

    /// <summary>The posts shown.</summary>
    public PostPage Posts { get; private set; } = new([], null);

    /// <summary>Loads the page; a name that cannot be a user's is 404.</summary>
    public async Task<IActionResult> OnGetAsync()
    {
        if (!Accounts.AccountService.IsValidUserName(Name) || Before < 0)
        {
            return NotFound();
        }

        Posts = await posts.ListByAuthorAsync(Name, Before ?? 0, 20);
        return Page();
    }
}
