using BookShelf.Grains.Posts;

namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>
/// The outbox journal for in-process test clusters: one list shared by every silo of the process, so it
/// outlives any silo, as the Redis one does.
/// </summary>
public sealed class SharedOutboxJournal(TimeProvider time) : IOutboxJournal
{
    private readonly Dictionary<PendingEvent, DateTimeOffset> _pending = [];

    /// <summary>Entries now.</summary>
    public IReadOnlyList<PendingEvent> Pending
    {
        get
        {
            lock (_pending)
            {
                return [.. _pending.Keys];
            }
        }
    }

    /// <summary>Adds an entry as a post would have before its silo died, marked at <paramref name="at"/>.</summary>
    public void Add(long postId, string eventKey, DateTimeOffset at)
    {
        lock (_pending)
        {
            _pending.TryAdd(new PendingEvent(postId, eventKey), at);
        }
    }

    /// <inheritdoc />
    public Task MarkPendingAsync(long postId, IReadOnlyList<string> eventKeys)
    {
        ArgumentNullException.ThrowIfNull(eventKeys);
        foreach (var key in eventKeys)
        {
            Add(postId, key, time.GetUtcNow());
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void MarkSettled(long postId, IReadOnlyList<string> eventKeys)
    {
        ArgumentNullException.ThrowIfNull(eventKeys);
        lock (_pending)
        {
            foreach (var key in eventKeys)
            {
                _pending.Remove(new PendingEvent(postId, key));
            }
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlySet<string>> PendingAsync(long postId, IReadOnlyList<string> eventKeys)
    {
        ArgumentNullException.ThrowIfNull(eventKeys);
        lock (_pending)
        {
            return Task.FromResult<IReadOnlySet<string>>(eventKeys.Where(k => _pending.ContainsKey(new PendingEvent(postId, k))).ToHashSet(StringComparer.Ordinal));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<PendingEvent>> DueAsync(DateTimeOffset markedBefore, int max)
    {
        lock (_pending)
        {
            return Task.FromResult<IReadOnlyList<PendingEvent>>(
                [.. _pending.Where(p => p.Value <= markedBefore).OrderBy(p => p.Value).Take(max).Select(p => p.Key)]);
        }
    }

    /// <inheritdoc />
    public Task PostponeAsync(IReadOnlyList<PendingEvent> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        lock (_pending)
        {
            foreach (var entry in entries.Where(_pending.ContainsKey))
            {
                _pending[entry] = time.GetUtcNow();
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task RemoveAsync(IReadOnlyList<PendingEvent> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        lock (_pending)
        {
            foreach (var entry in entries)
            {
                _pending.Remove(entry);
            }
        }

        return Task.CompletedTask;
    }
}
