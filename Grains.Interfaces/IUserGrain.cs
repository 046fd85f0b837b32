namespace BookShelf.Grains.Interfaces;

/// <summary>A user account, keyed by the lower-cased user name. Stores the password hash, never a password.</summary>
[Alias("BookShelf.IUserGrain")]
public interface IUserGrain : IGrainWithStringKey
{
    /// <summary>
    /// How long a call that may end sessions is given: past the longest session lease (one minute), which it may wait
    /// out for a gateway that does not answer.
    /// </summary>
    const string LeasesOutlastedTimeout = "00:01:30";

    /// <summary>Creates the account; false when the name is taken.</summary>
    [Alias("Register")]
    Task<bool> RegisterAsync(string displayName, string passwordHash);

    /// <summary>The display name and password hash, or null when there is no such account.</summary>
    [Alias("GetCredentials")]
    Task<Models.UserCredentials?> GetCredentialsAsync();

    /// <summary>Replaces the stored hash (after the hasher asks for a rehash).</summary>
    [Alias("UpdateHash")]
    Task UpdatePasswordHashAsync(string passwordHash);

    /// <summary>Records a signed-in session (a cookie or a token) until <paramref name="expires"/>; past the most sessions an account keeps, ends the oldest (as <see cref="EndSessionAsync"/>).</summary>
    [Alias("StartSession"), ResponseTimeout(LeasesOutlastedTimeout)]
    Task StartSessionAsync(string sessionId, DateTimeOffset expires);

    /// <summary>Whether the session was started, has not ended and has not expired.</summary>
    [Alias("IsSessionActive")]
    Task<bool> IsSessionActiveAsync(string sessionId);

    /// <summary>
    /// Whether the session is active, with a lease for <paramref name="holder"/> to accept it without asking until the
    /// lease runs out; ending the session tells every holder of a lease first (<see cref="EndSessionAsync"/>).
    /// </summary>
    [Alias("CheckSession")]
    Task<Models.SessionLease> CheckSessionAsync(string sessionId, ISessionObserver holder);

    /// <summary>
    /// Ends one session (sign-out, token revocation): its cookie or token stops working everywhere. Returns once
    /// every gateway holding a lease on the session has forgotten it, or that lease has run out.
    /// </summary>
    [Alias("EndSession"), ResponseTimeout(LeasesOutlastedTimeout)]
    Task EndSessionAsync(string sessionId);
}
