namespace BookShelf.Grains.Interfaces.Models;

/// <summary>What sign-in needs to know about an account.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.UserCredentials")]
public sealed record UserCredentials(
    [property: Id(0)] string DisplayName,
    [property: Id(1)] string PasswordHash);
