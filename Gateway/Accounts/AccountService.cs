using System.Text.RegularExpressions;
using BookShelf.Gateway.Options;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Accounts;

/// <summary>
/// Sign-up, password checks and bearer tokens. Passwords are hashed with ASP.NET Core Identity's hasher
/// (PBKDF2) here on the gateway; the <see cref="IUserGrain"/> stores only the hash. Tokens are protected with
/// the data-protection key ring every gateway shares, so a token from one gateway works on all.
/// </summary>
public sealed partial class AccountService(IGrainFactory grains, IDataProtectionProvider protection, IOptions<GatewayOptions> options)
{
    /// <summary>Shortest accepted password.</summary>
    public const int MinPasswordLength = 8;

    private static readonly PasswordHasher<Account> Hasher = new();
    private readonly ITimeLimitedDataProtector _tokens = protection.CreateProtector("BookShelf.Tokens.v1").ToTimeLimitedDataProtector();

    /// <summary>Checks a sign-up; returns field errors (empty when valid).</summary>
    public static Dictionary<string, string[]> ValidateSignUp(string? username, string? password)
    {
        var errors = new Dictionary<string, string[]>();
        if (username is null || !UserNamePattern().IsMatch(username))
        {
            errors["username"] = [$"Use 3 to {PostRules.MaxUserNameLength} letters, digits or underscores."];
        }

        if (password is null || password.Length < MinPasswordLength || password.Length > 256)
        {
            errors["password"] = [$"Use {MinPasswordLength} to 256 characters."];
        }

        return errors;
    }

    /// <summary>Creates the account; false when the name is taken.</summary>
    public Task<bool> RegisterAsync(string username, string password) =>
        grains.GetGrain<IUserGrain>(Key(username)).RegisterAsync(username, Hasher.HashPassword(new Account(username), password));

    /// <summary>The account's display name when the password is right, else null.</summary>
    public async Task<string?> VerifyAsync(string? username, string? password)
    {
        if (username is null || password is null || !UserNamePattern().IsMatch(username))
        {
            return null;
        }

        var user = grains.GetGrain<IUserGrain>(Key(username));
        var credentials = await user.GetCredentialsAsync();
        if (credentials is null)
        {
            return null;
        }

        var account = new Account(credentials.DisplayName);
        switch (Hasher.VerifyHashedPassword(account, credentials.PasswordHash, password))
        {
            case PasswordVerificationResult.Success:
                return credentials.DisplayName;
            case PasswordVerificationResult.SuccessRehashNeeded:
                await user.UpdatePasswordHashAsync(Hasher.HashPassword(account, password));
                return credentials.DisplayName;
            default:
                return null;
        }
    }

    /// <summary>A bearer token for <paramref name="username"/>, valid for the configured lifetime.</summary>
    public string IssueToken(string username) => _tokens.Protect(username, options.Value.TokenLifetime);

    /// <summary>The user a token was issued to, or null when it is invalid or expired.</summary>
    public string? ReadToken(string token)
    {
        try
        {
            return _tokens.Unprotect(token, out _);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    private static string Key(string username) => username.ToLowerInvariant();

    /// <summary>Whether <paramref name="username"/> has the form of a user name (checked before it is used for anything).</summary>
    public static bool IsValidUserName(string? username) => username is not null && UserNamePattern().IsMatch(username);

    [GeneratedRegex("^[A-Za-z0-9_]{3,32}$")]
    private static partial Regex UserNamePattern();

    /// <summary>The hasher's user type.</summary>
    public sealed record Account(string Name);
}
