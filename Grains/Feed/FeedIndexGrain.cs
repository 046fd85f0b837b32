namespace BookShelf.Grains.Feed;

/// <summary>
/// One bucket of a feed's index of sealed event keys, keyed <c>{group}|{bucket}</c> (see
/// <see cref="AppendedKeys.BucketOf"/>). Written by the group's updater when it seals a page, read when it
/// meets a key it does not hold in memory.
/// </summary>
public sealed class FeedIndexGrain(
    [PersistentState("index", StorageNames.Feeds)] IPersistentState<FeedIndexState> state) : Grain, IFeedIndexGrain
{
    /// <inheritdoc />
    public async Task AddAsync(IReadOnlyDictionary<string, long> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var stored = state.State.Keys;
        var added = false;
        foreach (var (key, seq) in keys)
        {
            added |= stored.TryAdd(key, seq);
        }

        if (!added)
        {
            return;
        }

        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // What is stored is unknown: read it again on the next call.
            DeactivateOnIdle();
            throw;
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, long>> ReadAsync() => Task.FromResult<IReadOnlyDictionary<string, long>>(new Dictionary<string, long>(state.State.Keys, StringComparer.Ordinal));
}
