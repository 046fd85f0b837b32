namespace BookShelf.Grains.Accounts;

/// <summary>A stored account.</summary>
[GenerateSerializer, Alias("BookShelf.UserState")]
public sealed class UserState
{
    /// <summary>The name as the user typed it.</summary>
    [Id(0)] public string DisplayName { get; set; } = "";

    /// <summary>The password hash (ASP.NET Core Identity's format); empty when there is no account.</summary>
    [Id(1)] public string PasswordHash { get; set; } = "";

    /// <summary>Signed-in sessions (cookies and tokens) by id, with when each expires.</summary>
    [Id(2)] public Dictionary<string, DateTimeOffset> Sessions { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether gateways may hold session leases an earlier activation granted: set before an activation grants its
    /// first, cleared when an activation ends with none still running. A new activation that finds it set (its
    /// predecessor's silo died, say) waits out one lease before acknowledging the end of a session it did not start.
    /// </summary>
    [Id(3)] public bool LeasesOutstanding { get; set; }
}
