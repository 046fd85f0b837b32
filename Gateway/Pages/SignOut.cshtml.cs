using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace BookShelf.Gateway.Pages;

/// <summary>Signs out (POST with the antiforgery token, from the header's button).</summary>
public sealed class SignOutModel(BookShelf.Gateway.Accounts.AccountService accounts) : PageModel
{
    /// <summary>Shows a confirmation button.</summary>
    public void OnGet()
    {
    }

    /// <summary>Ends the session (so a copy of the cookie stops working too) and drops the cookie.</summary>
    public async Task<IActionResult> OnPostAsync()
    {
        if (User.Identity?.Name is { } name && User.FindFirst(BookShelf.Gateway.Accounts.AccountService.SessionClaim)?.Value is { } session)
        {
            await accounts.EndSessionAsync(name, session);
        }

        await HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return Redirect("/");
    }
}
