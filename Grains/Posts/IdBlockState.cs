namespace BookShelf.Grains.Posts;

/// <summary>The next id a sequence hands out.</summary>
[GenerateSerializer, Alias("BookShelf.IdBlockState")]
public sealed class IdBlockState
{
    /// <summary>The first id of the next block; ids start at 1.</summary>
    [Id(0)] public long NextId { get; set; } = 1;
}
