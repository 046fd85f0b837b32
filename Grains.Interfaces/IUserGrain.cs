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
}
