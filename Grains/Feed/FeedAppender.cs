using BookShelf.Grains.Interfaces.Batching;

namespace BookShelf.Grains.Feed;

/// <summary>
/// Group commit for the feeds, one per silo: a post confirming its events with its group's
/// <see cref="IUpdaterGrain"/> goes through here, and every event of a group that arrives while that group's
/// previous batch is being stored goes into the next batch, stored with one write and pushed to the gateways in
/// one message each (<see cref="IUpdaterGrain.AppendBatchAsync"/>). At most one batch per group and silo is in
/// flight, so a hot group's write rate no longer caps its event rate, and a quiet group's single event goes at
/// once. Each caller learns its own events' seqs, or the batch's failure (then nothing of the batch was stored,
/// and the caller's outbox keeps the events for its retry). The batching itself is <see cref="KeyedBatcher{TKey, TItem, TResult}"/>.
/// </summary>
public sealed class FeedAppender
{
    /// <summary>Events in one batch at most (a larger request goes alone).</summary>
    public const int MaxBatch = 256;

    private readonly KeyedBatcher<string, FeedEvent, long> _batches;

    /// <summary>Appends through the silo's grain factory.</summary>
    public FeedAppender(IGrainFactory grains)
        : this((group, events) => grains.GetGrain<IUpdaterGrain>(group).AppendBatchAsync(events))
    {
    }

    /// <summary>Appends with <paramref name="append"/> (tests).</summary>
    internal FeedAppender(Func<string, IReadOnlyList<FeedEvent>, Task<IReadOnlyList<long>>> append) => _batches = new(append, MaxBatch);

    /// <summary>Appends <paramref name="feedEvent"/> to its group (<see cref="FeedEvent.Group"/>); returns its seq once stored.</summary>
    public async Task<long> AppendAsync(FeedEvent feedEvent)
    {
        ArgumentNullException.ThrowIfNull(feedEvent);
        return (await AppendAsync([feedEvent]))[0];
    }

    /// <summary>
    /// Appends <paramref name="events"/> (all of one group, in order) as one request: they go into the same batch,
    /// so either all are stored or none; returns their seqs once stored.
    /// </summary>
    public Task<IReadOnlyList<long>> AppendAsync(IReadOnlyList<FeedEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0 || events.Any(e => e.Group != events[0].Group))
        {
            throw new ArgumentException("A request appends one or more events of one group.", nameof(events));
        }

        return _batches.SubmitAsync(events[0].Group, events);
    }
}
