namespace BookShelf.Grains.Feed;

/// <summary>
/// A sealed page of a group's feed. Written by the group's <see cref="UpdaterGrain"/> (always with the same
/// events: seqs are never reassigned), read by catch-up. A page this activation holds no events for is read
/// from storage again before it answers: a stale activation (on a silo paused past its death declaration) may
/// predate the write, and an empty answer would hide events from a reader.
/// </summary>
public sealed class FeedPageGrain(
    [PersistentState("page", StorageNames.Feeds)] IPersistentState<FeedPageState> state) : Grain, IFeedPageGrain
{
    /// <inheritdoc />
    public async Task WriteAsync(IReadOnlyList<FeedEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        // Sealing again after a crash writes the same events: if storage has them, there is nothing to do (and
        // this activation's view of the record may be older than storage's).
        await state.ReadStateAsync();
        if (state.State.Events.Count == events.Count)
        {
            return;
        }

        state.State.Events = [.. events];
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FeedEvent>> ReadAsync()
    {
        if (state.State.Events.Count == 0)
        {
            await state.ReadStateAsync();
        }

        return state.State.Events;
    }
}
