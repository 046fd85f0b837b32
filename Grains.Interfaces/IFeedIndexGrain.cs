namespace BookShelf.Grains.Interfaces;

/// <summary>
/// One bucket of a group feed's index of sealed event keys, keyed <c>{group}|{bucket}</c>: what makes the
/// feed's appends idempotent for events sealed long ago. Only the group's updater calls it.
/// </summary>
[Alias("BookShelf.IFeedIndexGrain")]
public interface IFeedIndexGrain : IGrainWithStringKey
{
    /// <summary>Adds keys with their seqs (idempotent: a key keeps its first seq); returns once they are stored.</summary>
    [Alias("Add")]
    Task AddAsync(IReadOnlyDictionary<string, long> keys);

    /// <summary>Every key in the bucket, with its seq.</summary>
    [Alias("Read")]
    Task<IReadOnlyDictionary<string, long>> ReadAsync();
}
