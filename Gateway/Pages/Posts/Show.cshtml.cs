using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace BookShelf.Gateway.Pages.Posts;

/// <summary>A post with its comments and like button; comments and likes appear live.</summary>
public sealed class ShowModel(PostService posts, RateLimits limits) : PageModel
{
    /// <summary>The post id from the route.</summary>
    [BindProperty(SupportsGet = true)]
    public long Id { get; set; }

    /// <summary>Show the comments before this id (an earlier page); 0: the latest.</summary>
    [BindProperty(SupportsGet = true, Name = "comments_before")]
    public long CommentsBefore { get; set; }

    /// <summary>The comment being written.</summary>
    [BindProperty]
    public string? Text { get; set; }

    /// <summary>The submitted form's idempotency key.</summary>
    [BindProperty]
    public string? IdempotencyKey { get; set; }

    /// <summary>What was wrong with the comment.</summary>
    public string? Error { get; private set; }

    /// <summary>The post as shown.</summary>
    public PostView View { get; private set; } = null!;

    /// <summary>Shows the post.</summary>
    public async Task<IActionResult> OnGetAsync() => await LoadAsync() ? Page() : NotFound();

    /// <summary>Toggles the reader's like.</summary>
    public async Task<IActionResult> OnPostLikeAsync()
    {
        if (User.Identity?.IsAuthenticated != true)
        {
            return Challenge();
        }

        if (!await limits.TryWriteAsync(User.Identity!.Name, ClientAddress.KeyOf(HttpContext.Connection.RemoteIpAddress)))
        {
            return StatusCode(StatusCodes.Status429TooManyRequests);
        }

        Apis.IdempotencyKey.TryRead(Request, IdempotencyKey, out var key, out _);
        await posts.ToggleLikeAsync(Id, User.Identity.Name!, key);
        return RedirectToPage(new { Id });
    }

    /// <summary>Adds the reader's comment.</summary>
    public async Task<IActionResult> OnPostCommentAsync()
    {
        if (User.Identity?.IsAuthenticated != true)
        {
            return Challenge();
        }

        if (PostRules.CheckText("text", Text, PostRules.MaxCommentLength) is { } invalid)
        {
            Error = invalid.Message;
            return await LoadAsync() ? Page() : NotFound();
        }

        if (!await limits.TryWriteAsync(User.Identity!.Name, ClientAddress.KeyOf(HttpContext.Connection.RemoteIpAddress)))
        {
            return StatusCode(StatusCodes.Status429TooManyRequests);
        }

        Apis.IdempotencyKey.TryRead(Request, IdempotencyKey, out var key, out _);
        await posts.CommentAsync(Id, User.Identity.Name!, Text!, key);
        return RedirectToPage(new { Id });
    }

    /// <summary>A fresh key for a form on this page: submitting that form twice changes things once.</summary>
    public static string NewFormKey() => Guid.NewGuid().ToString("N");

    private async Task<bool> LoadAsync()
    {
        var view = await posts.GetViewAsync(Id, User.Identity?.Name, Math.Max(0, CommentsBefore));
        if (view is null)
        {
            return false;
        }

        View = view;
        return true;
    }
}
