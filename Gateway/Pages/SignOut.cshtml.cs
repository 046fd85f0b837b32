using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace BookShelf.Gateway.Pages;

/// <summary>Signs out (POST with the antiforgery token, from the header's button).</summary>
public sealed class SignOutModel : PageModel
{
    /// <summary>Shows a confirmation button.</summary>
    public void OnGet()
    {
    }

    /// <summary>Drops the sign-in cookie.</summary>
    public async Task<IActionResult> OnPostAsync()
    {
        await HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return Redirect("/");
    }
}
