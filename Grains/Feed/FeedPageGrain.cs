namespace BookShelf.Grains.Feed;

/// <summary>A sealed page of a group's feed. Written once by the group's <see cref="UpdaterGrain"/>, read by catch-up.</summary>
public sealed class FeedPageGrain(
    [PersistentState("page", StorageNames.Feeds)] IPersistentState<FeedPageState> state) : Grain, IFeedPageGrain
{
    /// <inheritdoc />
    public async Task WriteAsync(IReadOnlyList<FeedEvent> events)
    {
        state.State.Events = [.. events];
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<FeedEvent>> ReadAsync() => Task.FromResult<IReadOnlyList<FeedEvent>>(state.State.Events);
}
