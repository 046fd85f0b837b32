namespace BookShelf.Grains.Interfaces;

/// <summary>A user account, keyed by the lower-cased user name. Stores the password hash, never a password.</summary>
[Alias("BookShelf.IUserGrain")]
public interface IUserGrain : IGrainWithStringKey
{
    /// <summary>Creates the account; false when the name is taken.</summary>
    [Alias("Register")]
    Task<bool> RegisterAsync(string displayName, string passwordHash);

    /// <summary>The display name and password hash, or null when there is no such account.</summary>
    [Alias("GetCredentials")]
    Task<Models.UserCredentials?> GetCredentialsAsync();

    /// <summary>Replaces the stored hash (after the hasher asks for a rehash).</summary>
    [Alias("UpdateHash")]
    Task UpdatePasswordHashAsync(string passwordHash);

    /// <summary>Records a signed-in session (a cookie or a token) until <paramref name="expires"/>.</summary>
    [Alias("StartSession")]
    Task StartSessionAsync(string sessionId, DateTimeOffset expires);

    /// <summary>Whether the session was started, has not ended and has not expired.</summary>
    [Alias("IsSessionActive")]
    Task<bool> IsSessionActiveAsync(string sessionId);

    /// <summary>Ends one session (sign-out, token revocation): its cookie or token stops working everywhere.</summary>
    [Alias("EndSession")]
    Task EndSessionAsync(string sessionId);
}
