namespace BookShelf.Grains.Feed;

/// <summary>
/// One bucket of a feed's index of sealed event keys, keyed <c>{group}|{bucket}</c> (see
/// <see cref="AppendedKeys.BucketOf"/>). Written by the group's updater when it seals a page, read when it
/// meets a key it does not hold in memory. Both read storage first, never only this activation's memory: a
/// silo that was paused and declared dead keeps its activations until it learns so, and an answer from such a
/// stale copy ("not in the index") would let a late copy of an event be appended twice (seen under SIGSTOP).
/// </summary>
public sealed class FeedIndexGrain(
    [PersistentState("index", StorageNames.Feeds)] IPersistentState<FeedIndexState> state) : Grain, IFeedIndexGrain
{
    /// <inheritdoc />
    public async Task AddAsync(IReadOnlyDictionary<string, long> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        await state.ReadStateAsync();
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
    public async Task<IReadOnlyDictionary<string, long>> ReadAsync()
    {
        await state.ReadStateAsync();
        return new Dictionary<string, long>(state.State.Keys, StringComparer.Ordinal);
    }
}
