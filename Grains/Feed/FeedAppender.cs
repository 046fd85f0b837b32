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
    /// <summary>Events in one batch at most.</summary>
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
    public Task<long> AppendAsync(FeedEvent feedEvent)
    {
        ArgumentNullException.ThrowIfNull(feedEvent);
        var waiting = new Waiting(feedEvent, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (_groups)
        {
            start = !_groups.TryGetValue(feedEvent.Group, out var queue);
            if (start)
            {
                queue = [];
                _groups[feedEvent.Group] = queue;
            }

            queue!.Add(waiting);
        }

        if (start)
        {
            // Off the calling grain's scheduler: the batches of a group belong to no one activation.
            _ = Task.Run(() => DrainAsync(feedEvent.Group));
        }

        return waiting.Seq.Task;
    }

    private async Task DrainAsync(string group)
    {
        while (true)
        {
            Waiting[] batch;
            lock (_groups)
            {
                var queue = _groups[group];
                if (queue.Count == 0)
                {
                    _groups.Remove(group);
                    return;
                }

                var take = Math.Min(queue.Count, MaxBatch);
                batch = [.. queue.GetRange(0, take)];
                queue.RemoveRange(0, take);
            }

            try
            {
                var seqs = await _append(group, [.. batch.Select(w => w.Event)]);
                for (var i = 0; i < batch.Length; i++)
                {
                    batch[i].Seq.TrySetResult(seqs[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var waiting in batch)
                {
                    waiting.Seq.TrySetException(ex);
                }
            }
        }
    }

    private readonly record struct Waiting(FeedEvent Event, TaskCompletionSource<long> Seq);
}
