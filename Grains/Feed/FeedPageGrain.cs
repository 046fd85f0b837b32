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
        if (events.Count == 0)
        {
            throw new ArgumentException("A page holds at least one event.", nameof(events));
        }

        // Sealing again after a crash writes the same events: if storage has them, there is nothing to do (and
        // this activation's view of the record may be older than storage's).
        await state.ReadStateAsync();
        var stored = state.State.Events;
        if (stored.Count > 0)
        {
            // A page is written once. Another activation sealing it with other events (a silo with another page size,
            // racing on a feed that has sealed nothing yet) must fail, not overwrite events whose head has let go of them.
            if (stored.Count == events.Count && stored[0].Seq == events[0].Seq && stored[^1].Key == events[^1].Key)
            {
                return;
            }

            throw new InvalidOperationException(
                $"Page {this.GetPrimaryKeyString()} is sealed with seq {stored[0].Seq} to {stored[^1].Seq}; it is not written again with {events.Count} other event(s).");
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
