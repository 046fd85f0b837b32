using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace BookShelf.Gateway.Pages.Posts;

/// <summary>The new-post form (signed-in users only; see the page conventions).</summary>
public sealed class NewModel(PostService posts, RateLimits limits) : PageModel
{
    /// <summary>The title.</summary>
    [BindProperty]
    public string? Title { get; set; }

    /// <summary>The body.</summary>
    [BindProperty]
    public string? Body { get; set; }

    /// <summary>The form's idempotency key (one per form shown, kept when the form comes back with errors).</summary>
    [BindProperty]
    public string? IdempotencyKey { get; set; }

    /// <summary>Field errors.</summary>
    public Dictionary<string, string> Errors { get; } = [];

    /// <summary>Shows the form.</summary>
    public void OnGet()
    {
    }

    /// <summary>Publishes the post and shows it.</summary>
    public async Task<IActionResult> OnPostAsync()
    {
        foreach (var (field, value, max) in new[] { ("title", Title, PostRules.MaxTitleLength), ("body", Body, PostRules.MaxBodyLength) })
        {
            if (PostRules.CheckText(field, value, max) is { } error)
            {
                Errors[field] = error.Message;
            }
        }

        if (!Apis.IdempotencyKey.TryRead(Request, IdempotencyKey, out var key, out var keyError))
        {
            Errors["title"] = keyError!;
            IdempotencyKey = null;
        }

        if (Errors.Count > 0)
        {
            return Page();
        }

        if (!await limits.TryWriteAsync(User.Identity!.Name, ClientAddress.KeyOf(HttpContext.Connection.RemoteIpAddress)))
        {
            return StatusCode(StatusCodes.Status429TooManyRequests);
        }

        var post = await posts.CreateAsync(User.Identity.Name!, Title!, Body!, key);
        return Redirect($"/posts/{post.Id}");
    }
}
