namespace BookShelf.Grains.Interfaces.Models;

/// <summary>What an author submits to create a post.</summary>
[GenerateSerializer, Immutable, Alias("BookShelf.PostDraft")]
public sealed record PostDraft(
    [property: Id(0)] string Author,
    [property: Id(1)] string Title,
    [property: Id(2)] string Body);
