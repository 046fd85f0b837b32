namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>A local subscriber that records what it gets and lets a test wait for a condition on it.</summary>
public sealed class RecordingListener : IFeedListener
{
    private readonly Lock _lock = new();
    private readonly List<FeedEvent> _events = [];
    private readonly List<(string Group, long LastSeq)> _resets = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Everything received, in arrival order.</summary>
    public IReadOnlyList<FeedEvent> Events
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Resets received.</summary>
    public IReadOnlyList<(string Group, long LastSeq)> Resets
    {
        get
        {
            lock (_lock)
            {
                return [.. _resets];
            }
        }
    }

    /// <summary>The post ids of received post events.</summary>
    public IReadOnlyList<long> PostIds => [.. Events.Where(e => e.Kind == FeedEventKind.PostCreated).Select(e => e.PostId)];

    /// <inheritdoc />
    public void OnEvent(FeedFrame frame)
    {
        lock (_lock)
        {
            _events.AddRange(frame.Events);
            Signal();
        }
    }

    /// <inheritdoc />
    public ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken)
    {
        OnEvent(frame);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public void OnSubscribed(string group, long lastSeq)
    {
    }

    /// <inheritdoc />
    public void OnReset(string group, long lastSeq)
    {
        lock (_lock)
        {
            _resets.Add((group, lastSeq));
            Signal();
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the received events; fails naming <paramref name="what"/>.</summary>
    public async Task WaitForAsync(Func<IReadOnlyList<FeedEvent>, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition(_events))
                {
                    return;
                }

                changed = _changed.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left, TestContext.Current.CancellationToken)) != changed)
            {
                Assert.Fail($"Timed out waiting for {what}; received {Events.Count} event(s), last seq {Events.LastOrDefault()?.Seq}.");
            }
        }
    }

    /// <summary>Waits until every id in <paramref name="ids"/> was received.</summary>
    public async Task WaitForPostsAsync(IEnumerable<long> ids, string who, TimeSpan? timeout = null)
    {
        var wanted = ids.ToHashSet();
        try
        {
            await WaitForAsync(events => wanted.IsSubsetOf(events.Where(e => e.Kind == FeedEventKind.PostCreated).Select(e => e.PostId)), $"{who} to receive {wanted.Count} post id(s)", timeout);
        }
        catch (Exception timedOut) when (timedOut is not OperationCanceledException)
        {
            // Say what was missing and whether the node was told to reload, so a failure explains itself.
            var seen = Events.Where(e => e.Kind == FeedEventKind.PostCreated).Select(e => e.PostId).ToHashSet();
            var missing = wanted.Where(id => !seen.Contains(id)).ToList();
            Assert.Fail($"{timedOut.Message} Missing {missing.Count} (e.g. {string.Join(", ", missing.Take(5))}); resets: [{string.Join(", ", Resets.Select(r => $"{r.Group}@{r.LastSeq}"))}].");
        }
    }

    private void Signal()
    {
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }
}
