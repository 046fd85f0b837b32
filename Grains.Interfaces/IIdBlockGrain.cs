namespace BookShelf.Grains.Interfaces;

/// <summary>Keys of the id sequences.</summary>
public static class IdBlockKeys
{
    /// <summary>Post ids.</summary>
    public const string Posts = "posts";
}

/// <summary>Hands out disjoint blocks of ids for one sequence (the key), durably, starting at 1.</summary>
[Alias("BookShelf.IIdBlockGrain")]
public interface IIdBlockGrain : IGrainWithStringKey
{
    /// <summary>Reserves <paramref name="count"/> ids; returns the first. The block is never handed out again.</summary>
    [Alias("Reserve")]
    Task<long> ReserveAsync(int count);
}
