using BookShelf.Gateway.Accounts;
using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace BookShelf.Gateway.Pages;

/// <summary>Sign-up form: creates the account and signs the new user in.</summary>
public sealed class SignUpModel(AccountService accounts, RateLimits limits) : PageModel
{
    /// <summary>The user name.</summary>
    [BindProperty]
    public string? Username { get; set; }

    /// <summary>The password.</summary>
    [BindProperty]
    public string? Password { get; set; }

    /// <summary>Field errors.</summary>
    public Dictionary<string, string> Errors { get; } = [];

    /// <summary>Shows the form.</summary>
    public void OnGet()
    {
    }

    /// <summary>Creates the account.</summary>
    public async Task<IActionResult> OnPostAsync()
    {
        foreach (var (field, messages) in AccountService.ValidateSignUp(Username, Password))
        {
            Errors[field] = messages[0];
        }

        if (Errors.Count == 0 && !await limits.TrySignUpAsync(ClientAddress.KeyOf(HttpContext.Connection.RemoteIpAddress)))
        {
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            Errors["username"] = "Too many sign-ups from here. Wait a minute and try again.";
        }

        if (Errors.Count == 0 && !await accounts.RegisterAsync(Username!, Password!))
        {
            Errors["username"] = "That user name is taken.";
        }

        if (Errors.Count > 0)
        {
            return Page();
        }

        await SignInModel.SignInCookieAsync(HttpContext, accounts, Username!);
        return Redirect("/");
    }
}
