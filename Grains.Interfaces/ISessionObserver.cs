namespace BookShelf.Grains.Interfaces;

/// <summary>
/// A gateway node's record of the sessions it may accept without asking (each under a lease from the user's
/// grain). The grain calls it when a session ends, and acknowledges the sign-out only once every gateway holding
/// a lease on it has answered or that lease has run out.
/// </summary>
[Alias("BookShelf.ISessionObserver")]
public interface ISessionObserver : IGrainObserver
{
    /// <summary>Forgets the lease on <paramref name="sessionId"/> of <paramref name="user"/> (the user grain's key): from now on this node asks again.</summary>
    [Alias("Revoke")]
    Task RevokeAsync(string user, string sessionId);
}
