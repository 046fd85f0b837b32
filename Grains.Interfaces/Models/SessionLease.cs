namespace BookShelf.Grains.Interfaces.Models;

/// <summary>
/// The answer to a session check: whether the session is active, and for how long from when the check was sent the
/// asking gateway may accept it without asking again (zero: ask every time).
/// </summary>
[GenerateSerializer, Immutable, Alias("BookShelf.SessionLease")]
public sealed record SessionLease(
    [property: Id(0)] bool Active,
    [property: Id(1)] TimeSpan For)
{
    /// <summary>Not active (ended, expired or never started).</summary>
    public static SessionLease Inactive { get; } = new(false, TimeSpan.Zero);
}
