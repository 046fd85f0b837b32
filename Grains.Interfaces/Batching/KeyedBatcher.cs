namespace BookShelf.Grains.Interfaces.Batching;

/// <summary>
/// Group commit by key: requests for a key that arrive while that key's previous batch runs go together in its
/// next batch, at most one batch per key in flight, as many whole requests as fit in <paramref name="maxBatch"/>
/// items (a request's items are never split; a larger request goes alone). A quiet key's request runs at once.
/// Each caller gets its own items' results, in order, or the batch's failure. Used by the silo's feed appender
/// (events per group) and the gateway's post writes (changes per post).
/// </summary>
/// <param name="run">Runs one batch for a key: one result per item, in order.</param>
/// <param name="maxBatch">Items in one batch at most.</param>
public sealed class KeyedBatcher<TKey, TItem, TResult>(Func<TKey, IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> run, int maxBatch)
    where TKey : notnull
{
    private readonly Dictionary<TKey, List<Waiting>> _queues = [];

    /// <summary>Runs <paramref name="items"/> for <paramref name="key"/> in some batch; returns their results.</summary>
    public Task<IReadOnlyList<TResult>> SubmitAsync(TKey key, IReadOnlyList<TItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var waiting = new Waiting(items, new TaskCompletionSource<IReadOnlyList<TResult>>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (_queues)
        {
            start = !_queues.TryGetValue(key, out var queue);
            if (start)
            {
                queue = [];
                _queues[key] = queue;
            }

            queue!.Add(waiting);
        }

        if (start)
        {
            // A key's batches belong to no one caller: the loop serves every later caller too.
            Detached.Run(() => DrainAsync(key));
        }

        return waiting.Results.Task;
    }

    private async Task DrainAsync(TKey key)
    {
        while (true)
        {
            List<Waiting> batch = [];
            lock (_queues)
            {
                var queue = _queues[key];
                if (queue.Count == 0)
                {
                    _queues.Remove(key);
                    return;
                }

                var items = 0;
                var take = 0;
                while (take < queue.Count && (take == 0 || items + queue[take].Items.Count <= maxBatch))
                {
                    items += queue[take].Items.Count;
                    take++;
                }

                batch.AddRange(queue.GetRange(0, take));
                queue.RemoveRange(0, take);
            }

            try
            {
                var results = await run(key, [.. batch.SelectMany(w => w.Items)]);
                var at = 0;
                foreach (var waiting in batch)
                {
                    waiting.Results.TrySetResult([.. results.Skip(at).Take(waiting.Items.Count)]);
                    at += waiting.Items.Count;
                }
            }
            catch (Exception ex)
            {
                foreach (var waiting in batch)
                {
                    waiting.Results.TrySetException(ex);
                }
            }
        }
    }

    private readonly record struct Waiting(IReadOnlyList<TItem> Items, TaskCompletionSource<IReadOnlyList<TResult>> Results);
}
