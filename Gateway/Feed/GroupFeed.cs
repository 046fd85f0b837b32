using BookShelf.Gateway.Diagnostics;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// One group on this node: its subscription to the group's <see cref="IUpdaterGrain"/> (made with the first
/// local listener, renewed as a lease, ended after the last), its position (<see cref="GroupSequencer"/>), and
/// its listeners (<see cref="GroupListeners"/>). Pushes go through an inbox so that events arriving during a
/// fan-out go out together; gaps are read from the feed; a resuming listener replays outside the gate.
/// </summary>
internal sealed partial class GroupFeed(string name, IGrainFactory grains, GatewayFeedOptions options, GroupListeners listeners, GatewayMetrics? metrics, ILogger logger, Action<GroupFeed> retire)
{
    /// <summary>Most events fanned out together (one write per connection).</summary>
    private const int MaxBatch = 64;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly GroupSequencer _sequence = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<IReadOnlyList<FeedEvent>> _inbox = new();
    private int _draining;
    private bool _subscribed;
    private bool _retired;

    /// <summary>The group.</summary>
    public string Name { get; } = name;

    private IUpdaterGrain Updater => grains.GetGrain<IUpdaterGrain>(Name);

    /// <summary>
    /// Adds a listener; null when this group feed retired meanwhile (ask the node for a new one). Without
    /// <paramref name="afterSeq"/> it is live at once. With it, the missed events are replayed outside the gate
    /// (so a slow listener holds up only itself) while live events are held for it; then the held ones follow.
    /// </summary>
    public async Task<FeedSlot?> AddAsync(IGatewayObserver self, IFeedListener listener, long? afterSeq, CancellationToken cancellationToken)
    {
        var slot = new FeedSlot(listener);
        long target;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_retired)
            {
                return null;
            }

            if (!_subscribed)
            {
                _sequence.Restart(await Updater.SubscribeAsync(self));
                _subscribed = true;
                LogSubscribed(logger, Name, _sequence.Last);
            }

            target = _sequence.Last;
            slot.CatchingUp = afterSeq is { } from && from != target;
            listeners.Add(slot);
            if (!slot.CatchingUp)
            {
                listener.OnSubscribed(Name, target);
                return slot;
            }
        }
        finally
        {
            _gate.Release();
        }

        try
        {
            await CatchUpListenerAsync(slot, afterSeq!.Value, target, cancellationToken);
            return slot;
        }
        catch
        {
            await RemoveAsync(self, slot);
            throw;
        }
    }

    /// <summary>Removes a listener; after the last, ends the subscription and retires this group feed.</summary>
    public async Task RemoveAsync(IGatewayObserver self, FeedSlot slot)
    {
        await _gate.WaitAsync();
        try
        {
            listeners.Remove(slot);
            if (listeners.Count > 0 || !_subscribed)
            {
                return;
            }

            _subscribed = false;
            _retired = true;
            retire(this);
            LogUnsubscribed(logger, Name);
            try
            {
                await Updater.UnsubscribeAsync(self);
            }
            catch (Exception ex)
            {
                // The lease expires by itself.
                LogUpdaterFailed(logger, ex, Name);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Renews the lease (which also re-subscribes after the updater moved) and fills any gap its last seq reveals.</summary>
    public async Task RenewAsync(IGatewayObserver self, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_subscribed)
            {
                return;
            }

            var last = await Updater.SubscribeAsync(self);
            if (last > _sequence.Last)
            {
                await CatchUpAsync(last);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Takes pushed events and returns at once. They go into an inbox; one drain at a time takes every event
    /// in it and fans them out together, so when events come faster than a fan-out takes, each connection
    /// gets them in fewer, larger writes instead of falling further behind. (Returning at once matters:
    /// Orleans hands this node's observer one push at a time, so awaiting the fan-out here would queue the
    /// next pushes where they cannot be batched.)
    /// </summary>
    public Task ReceiveAsync(IReadOnlyList<FeedEvent> events)
    {
        _inbox.Enqueue(events);
        if (Interlocked.Exchange(ref _draining, 1) == 0)
        {
            _ = Task.Run(DrainInboxAsync);
        }

        return Task.CompletedTask;
    }

    /// <summary>Ends the subscription when this node stops.</summary>
    public Task UnsubscribeAsync(IGatewayObserver self) => Updater.UnsubscribeAsync(self);

    private async Task CatchUpListenerAsync(FeedSlot slot, long from, long target, CancellationToken cancellationToken)
    {
        var listener = slot.Listener;
        if (from > target)
        {
            // Ahead of this node: fine if the feed really has it (pushes are in flight); a seq the feed
            // never had means the client's position is meaningless.
            var probe = await Updater.ReadAsync(from, 0);
            if (from > probe.LastSeq)
            {
                listener.OnReset(Name, target);
            }

            from = target;
        }

        while (true)
        {
            from = await ReplayAsync(listener, from, target, cancellationToken);
            await _gate.WaitAsync(cancellationToken);
            try
            {
                if (slot.Held.Count <= options.ReadBatch)
                {
                    // Caught up: the held live events follow the replay, then the listener is live.
                    slot.CatchingUp = false;
                    listener.OnSubscribed(Name, from);
                    foreach (var frame in slot.Held)
                    {
                        if (frame.LastSeq > from)
                        {
                            listener.OnEvent(frame);
                        }
                    }

                    slot.ClearHeld();
                    return;
                }

                // Too much arrived meanwhile: replay that too instead of holding it.
                target = _sequence.Last;
                slot.ClearHeld();
            }
            finally
            {
                _gate.Release();
            }
        }
    }

    private async Task DrainInboxAsync()
    {
        while (true)
        {
            await _gate.WaitAsync();
            try
            {
                while (_inbox.TryDequeue(out var arrived))
                {
                    if (_subscribed)
                    {
                        _sequence.Offer(arrived);
                    }
                }

                if (_subscribed)
                {
                    await DeliverReadyAsync();
                    if (_sequence.GapUpTo is { } gap)
                    {
                        await CatchUpAsync(gap);
                    }
                }
            }
            catch (Exception ex)
            {
                // The next push or renewal finds the gap again.
                LogUpdaterFailed(logger, ex, Name);
            }
            finally
            {
                _gate.Release();
            }

            Volatile.Write(ref _draining, 0);
            if (_inbox.IsEmpty || Interlocked.Exchange(ref _draining, 1) != 0)
            {
                return;
            }
        }
    }

    /// <summary>Reads from the feed until this node has every event up to <paramref name="target"/>. Holds the gate.</summary>
    private async Task CatchUpAsync(long target)
    {
        metrics?.GapFilled();
        LogGap(logger, Name, _sequence.Last, target);
        while (_sequence.Last < target)
        {
            // However far behind this node fell, its live listeners get every event (a listener that cannot take
            // them all is closed as too slow and resumes on its own, under the replay limit).
            var read = await Updater.ReadGapAsync(_sequence.Last, options.ReadBatch);

            if (read.Events.Count == 0)
            {
                break;
            }

            _sequence.Offer(read.Events);
            await DeliverReadyAsync();
        }

        _sequence.SkipTo(_sequence.Last);
        await DeliverReadyAsync();
    }

    /// <summary>
    /// Replays (<paramref name="from"/>, <paramref name="to"/>] to one listener, waiting on it as needed.
    /// Returns the seq it reached (or, after a reset, <paramref name="to"/>).
    /// </summary>
    private async Task<long> ReplayAsync(IFeedListener listener, long from, long to, CancellationToken cancellationToken)
    {
        while (from < to)
        {
            var read = await Updater.ReadAsync(from, (int)Math.Min(options.ReadBatch, to - from));
            if (read.Reset)
            {
                listener.OnReset(Name, to);
                return to;
            }

            if (read.Events.Count == 0)
            {
                return from;
            }

            foreach (var e in read.Events)
            {
                if (e.Seq == from + 1 && e.Seq <= to)
                {
                    await listener.OnReplayAsync(FeedFrame.Create(e), cancellationToken);
                    from = e.Seq;
                }
            }
        }

        return from;
    }

    /// <summary>Fans out the events that follow on from the last one handed on, up to <see cref="MaxBatch"/> at a time. Holds the gate.</summary>
    private async Task DeliverReadyAsync()
    {
        while (_sequence.TakeNext(MaxBatch) is { } run)
        {
            await listeners.DeliverAsync(run);
        }
    }

    [LoggerMessage(3001, LogLevel.Debug, "Gateway subscribed to {Group} at seq {Seq}")]
    private static partial void LogSubscribed(ILogger logger, string group, long seq);

    [LoggerMessage(3002, LogLevel.Debug, "Gateway unsubscribed from {Group}")]
    private static partial void LogUnsubscribed(ILogger logger, string group);

    [LoggerMessage(3003, LogLevel.Debug, "Gateway filling {Group} from seq {From} to {To}")]
    private static partial void LogGap(ILogger logger, string group, long from, long to);

    [LoggerMessage(3004, LogLevel.Warning, "Gateway feed of {Group} could not reach its updater")]
    private static partial void LogUpdaterFailed(ILogger logger, Exception exception, string group);
}
