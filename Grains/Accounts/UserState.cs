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
}
