using System.Security.Claims;
using BookShelf.Gateway.Accounts;
using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace BookShelf.Gateway.Pages;

/// <summary>Cookie sign-in for browsers, limited per user name and per address.</summary>
public sealed class SignInModel(AccountService accounts, RateLimits limits) : PageModel
{
    /// <summary>The user name.</summary>
    [BindProperty]
    public string? Username { get; set; }

    /// <summary>The password.</summary>
    [BindProperty]
    public string? Password { get; set; }

    /// <summary>Where to go after signing in (local URLs only).</summary>
    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    /// <summary>Why sign-in failed.</summary>
    public string? Error { get; private set; }

    /// <summary>Issues the sign-in cookie for <paramref name="username"/>, in a session of its own (ended by signing out).</summary>
    public static async Task SignInCookieAsync(HttpContext context, AccountService accounts, string username)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        var session = await accounts.StartSessionAsync(username, AccountService.CookieSessionLifetime);
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, username), new Claim(AccountService.SessionClaim, session)], CookieAuthenticationDefaults.AuthenticationScheme)));
    }

    /// <summary>Shows the form.</summary>
    public void OnGet()
    {
    }

    /// <summary>Checks the password and signs in.</summary>
    public async Task<IActionResult> OnPostAsync()
    {
        if (!await limits.TrySignInAsync(Username, ClientAddress.KeyOf(HttpContext.Connection.RemoteIpAddress)))
        {
            Error = "Too many attempts. Wait a minute and try again.";
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            return Page();
        }

        var user = await accounts.VerifyAsync(Username, Password);
        if (user is null)
        {
            Error = "The user name or password is wrong.";
            return Page();
        }

        await SignInCookieAsync(HttpContext, accounts, user);
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl : "/");
    }
}
