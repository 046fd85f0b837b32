namespace BookShelf.Grains.Feed;

/// <summary>
/// Group commit for the feeds, one per silo: a post confirming its event with its group's
/// <see cref="IUpdaterGrain"/> goes through here, and every event of a group that arrives while that group's
/// previous batch is being stored goes into the next batch, stored with one write and pushed to the gateways in
/// one message each (<see cref="IUpdaterGrain.AppendBatchAsync"/>). At most one batch per group and silo is in
/// flight, so a hot group's write rate no longer caps its event rate, and a quiet group's single event goes at
/// once. Each caller learns its own event's seq, or the batch's failure (then nothing of the batch was stored,
/// and the caller's outbox keeps the event for its retry).
/// </summary>
public sealed class FeedAppender
{
    /// <summary>Events in one batch at most (a larger request goes alone).</summary>
    public const int MaxBatch = 256;

    private readonly Func<string, IReadOnlyList<FeedEvent>, Task<IReadOnlyList<long>>> _append;
    private readonly Dictionary<string, List<Waiting>> _groups = new(StringComparer.Ordinal);

    /// <summary>Appends through the silo's grain factory.</summary>
    public FeedAppender(IGrainFactory grains)
        : this((group, events) => grains.GetGrain<IUpdaterGrain>(group).AppendBatchAsync(events))
    {
    }

    /// <summary>Appends with <paramref name="append"/> (tests).</summary>
    internal FeedAppender(Func<string, IReadOnlyList<FeedEvent>, Task<IReadOnlyList<long>>> append) => _append = append;

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

        var group = events[0].Group;
        var waiting = new Waiting(events, new TaskCompletionSource<IReadOnlyList<long>>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (_groups)
        {
            start = !_groups.TryGetValue(group, out var queue);
            if (start)
            {
                queue = [];
                _groups[group] = queue;
            }

            queue!.Add(waiting);
        }

        if (start)
        {
            // Off the calling grain's scheduler: the batches of a group belong to no one activation.
            _ = Task.Run(() => DrainAsync(group));
        }

        return waiting.Seqs.Task;
    }

    private async Task DrainAsync(string group)
    {
        while (true)
        {
            List<Waiting> batch = [];
            lock (_groups)
            {
                var queue = _groups[group];
                if (queue.Count == 0)
                {
                    _groups.Remove(group);
                    return;
                }

                // Whole requests, as many as fit (at least one): a request's events are never split.
                var events = 0;
                var take = 0;
                while (take < queue.Count && (take == 0 || events + queue[take].Events.Count <= MaxBatch))
                {
                    events += queue[take].Events.Count;
                    take++;
                }

                batch.AddRange(queue.GetRange(0, take));
                queue.RemoveRange(0, take);
            }

            try
            {
                var seqs = await _append(group, [.. batch.SelectMany(w => w.Events)]);
                var at = 0;
                foreach (var waiting in batch)
                {
                    waiting.Seqs.TrySetResult([.. seqs.Skip(at).Take(waiting.Events.Count)]);
                    at += waiting.Events.Count;
                }
            }
            catch (Exception ex)
            {
                foreach (var waiting in batch)
                {
                    waiting.Seqs.TrySetException(ex);
                }
            }
        }
    }

    private readonly record struct Waiting(IReadOnlyList<FeedEvent> Events, TaskCompletionSource<IReadOnlyList<long>> Seqs);
}
