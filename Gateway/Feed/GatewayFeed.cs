using System.Collections.Concurrent;
using BookShelf.Grains.Interfaces;
using BookShelf.Grains.Interfaces.Models;
using BookShelf.Gateway.Diagnostics;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// This gateway node's side of the fan-out. It owns the node's single <see cref="IGatewayObserver"/>,
/// subscribes to a group's <see cref="IUpdaterGrain"/> when the first local listener arrives and unsubscribes
/// after the last leaves, renews the leases, and turns at-most-once, possibly reordered pushes into an exact
/// sequence: it drops repeats, holds early events, and reads any gap from the feed. Each event is encoded
/// once and handed to every local listener of its group in seq order.
/// </summary>
public sealed partial class GatewayFeed : IGatewayObserver, IAsyncDisposable
{
    private readonly IGrainFactory _grains;
    private readonly GatewayFeedOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<GatewayFeed> _logger;
    private readonly GatewayMetrics? _metrics;
    private readonly FanOutThreads? _fanOut;
    private readonly ConcurrentDictionary<string, GroupFeed> _groups = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private IGatewayObserver? _self;
    private Task _renewals = Task.CompletedTask;
    private volatile bool _renewalsPaused;
    private int _disposed;

    /// <summary>Creates the feed side of a gateway node; call <see cref="Start"/> once the cluster client is connected.</summary>
    public GatewayFeed(IGrainFactory grains, IOptions<GatewayFeedOptions> options, TimeProvider time, ILogger<GatewayFeed> logger, GatewayMetrics? metrics = null, FanOutThreads? fanOut = null)
    {
        _metrics = metrics;
        _fanOut = fanOut;
        ArgumentNullException.ThrowIfNull(options);
        _grains = grains;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Creates the node's observer and starts renewing leases.</summary>
    public void Start()
    {
        if (_self is not null)
        {
            return;
        }

        _self = _grains.CreateObjectReference<IGatewayObserver>(this);
        _renewals = RenewLoopAsync(_stopping.Token);
    }

    /// <summary>
    /// Adds a local listener to <paramref name="group"/>. With <paramref name="afterSeq"/>, first replays every
    /// event after it (or calls <see cref="IFeedListener.OnReset"/> when the feed cannot), then live events.
    /// Dispose the result to leave.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeAsync(string group, long? afterSeq, IFeedListener listener, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listener);
        if (!Groups.IsValid(group))
        {
            throw new ArgumentException($"'{group}' is not a group.", nameof(group));
        }

        var self = _self ?? throw new InvalidOperationException("The gateway feed is not started.");
        while (true)
        {
            var feed = _groups.GetOrAdd(group, g => new GroupFeed(g, this));
            if (await feed.AddAsync(self, listener, afterSeq, cancellationToken) is { } slot)
            {
                return new Subscription(feed, self, slot);
            }
        }
    }

    /// <summary>Stops renewing leases, as a node that hangs would (for tests of lease expiry).</summary>
    internal void PauseRenewals() => _renewalsPaused = true;

    /// <summary>Renews every lease now and fills any gap it reveals (the timer does this periodically).</summary>
    internal async Task RenewAllAsync(CancellationToken cancellationToken)
    {
        var self = _self;
        if (self is null || _renewalsPaused)
        {
            return;
        }

        foreach (var feed in _groups.Values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await feed.RenewAsync(self, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRenewFailed(_logger, ex, feed.Name);
            }
        }
    }

    /// <inheritdoc />
    Task IGatewayObserver.OnEventsAsync(string group, IReadOnlyList<FeedEvent> events)
    {
        if (_metrics is { } metrics)
        {
            var now = _time.GetUtcNow();
            foreach (var e in events)
            {
                metrics.Arrived(e.At, now);
            }
        }

        return _groups.TryGetValue(group, out var feed) ? feed.ReceiveAsync(events) : Task.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            await _renewals;
        }
        catch (OperationCanceledException)
        {
        }

        if (_self is { } self)
        {
            foreach (var feed in _groups.Values)
            {
                try
                {
                    await _grains.GetGrain<IUpdaterGrain>(feed.Name).UnsubscribeAsync(self).WaitAsync(TimeSpan.FromSeconds(2));
                }
                catch (Exception ex)
                {
                    LogRenewFailed(_logger, ex, feed.Name);
                }
            }

            _grains.DeleteObjectReference<IGatewayObserver>(self);
        }

        _stopping.Dispose();
    }

    private async Task RenewLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.RenewInterval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            await RenewAllAsync(cancellationToken);
        }
    }

    private sealed class Subscription(GroupFeed feed, IGatewayObserver self, Slot slot) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() =>
            Interlocked.Exchange(ref _disposed, 1) == 0 ? new ValueTask(feed.RemoveAsync(self, slot)) : ValueTask.CompletedTask;
    }

    /// <summary>One group on this node: its position, the events that came early, and its local listeners.</summary>
    private sealed class GroupFeed(string name, GatewayFeed owner)
    {
        /// <summary>Listeners per part when a group's fan-out is split over the fan-out threads.</summary>
        private const int ParallelChunk = 512;

        /// <summary>Most events fanned out together (one write per connection).</summary>
        private const int MaxBatch = 64;

        private readonly SemaphoreSlim _gate = new(1, 1);
        private readonly SortedDictionary<long, FeedEvent> _early = [];
        private readonly System.Collections.Concurrent.ConcurrentQueue<IReadOnlyList<FeedEvent>> _inbox = new();
        private int _draining;
        private readonly List<Slot> _slots = [];
        private long _last;
        private bool _subscribed;
        private bool _retired;

        public string Name { get; } = name;

        private IUpdaterGrain Updater => owner._grains.GetGrain<IUpdaterGrain>(Name);

        /// <summary>
        /// Adds a listener. Without <paramref name="afterSeq"/> it is live at once. With it, the missed events are
        /// replayed outside the gate (so a slow listener holds up only itself) while live events are held for
        /// it; then the held ones follow and it is live.
        /// </summary>
        public async Task<Slot?> AddAsync(IGatewayObserver self, IFeedListener listener, long? afterSeq, CancellationToken cancellationToken)
        {
            var slot = new Slot(listener);
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
                    _last = await Updater.SubscribeAsync(self);
                    _early.Clear();
                    _subscribed = true;
                    LogSubscribed(owner._logger, Name, _last);
                }

                target = _last;
                slot.CatchingUp = afterSeq is { } from && from != target;
                slot.Index = _slots.Count;
                _slots.Add(slot);
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
                var from = afterSeq!.Value;
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
                        if (slot.Held.Count <= owner._options.ReadBatch)
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
                            return slot;
                        }

                        // Too much arrived meanwhile: replay that too instead of holding it.
                        target = _last;
                        slot.ClearHeld();
                    }
                    finally
                    {
                        _gate.Release();
                    }
                }
            }
            catch
            {
                await RemoveAsync(self, slot);
                throw;
            }
        }

        public async Task RemoveAsync(IGatewayObserver self, Slot slot)
        {
            await _gate.WaitAsync();
            try
            {
                // Swap-remove: O(1), order among listeners does not matter.
                if (slot.Index >= 0 && slot.Index < _slots.Count && ReferenceEquals(_slots[slot.Index], slot))
                {
                    var last = _slots[^1];
                    _slots[slot.Index] = last;
                    last.Index = slot.Index;
                    _slots.RemoveAt(_slots.Count - 1);
                    slot.Index = -1;
                }

                if (_slots.Count > 0 || !_subscribed)
                {
                    return;
                }

                _subscribed = false;
                _retired = true;
                owner._groups.TryRemove(new KeyValuePair<string, GroupFeed>(Name, this));
                LogUnsubscribed(owner._logger, Name);
                try
                {
                    await Updater.UnsubscribeAsync(self);
                }
                catch (Exception ex)
                {
                    // The lease expires by itself.
                    LogRenewFailed(owner._logger, ex, Name);
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task RenewAsync(IGatewayObserver self, CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                if (!_subscribed)
                {
                    return;
                }

                // Renewing also re-subscribes after the updater moved to another silo; its last seq reveals
                // any event whose push was lost.
                var last = await Updater.SubscribeAsync(self);
                if (last > _last)
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

        private async Task DrainInboxAsync()
        {
            while (true)
            {
                await _gate.WaitAsync();
                try
                {
                    while (_inbox.TryDequeue(out var arrived))
                    {
                        foreach (var e in arrived)
                        {
                            if (_subscribed && e.Seq > _last)
                            {
                                _early.TryAdd(e.Seq, e);
                            }
                        }
                    }

                    if (_subscribed)
                    {
                        await DrainEarlyAsync();
                        if (_early.Count > 0)
                        {
                            await CatchUpAsync(_early.Keys.Last());
                        }
                    }
                }
                catch (Exception ex)
                {
                    // The next push or renewal finds the gap again.
                    LogRenewFailed(owner._logger, ex, Name);
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
            owner._metrics?.GapFilled();
            LogGap(owner._logger, Name, _last, target);
            while (_last < target)
            {
                var read = await Updater.ReadAsync(_last, owner._options.ReadBatch);
                if (read.Reset)
                {
                    // This node fell further behind than the feed replays: every listener must reload.
                    _last = read.LastSeq;
                    foreach (var slot in _slots)
                    {
                        slot.ClearHeld();
                        slot.Listener.OnReset(Name, _last);
                    }

                    break;
                }

                if (read.Events.Count == 0)
                {
                    break;
                }

                foreach (var e in read.Events)
                {
                    if (e.Seq > _last)
                    {
                        _early.TryAdd(e.Seq, e);
                    }
                }

                await DrainEarlyAsync();
            }

            foreach (var seq in _early.Keys.Where(s => s <= _last).ToList())
            {
                _early.Remove(seq);
            }

            await DrainEarlyAsync();
        }

        /// <summary>
        /// Replays (<paramref name="from"/>, <paramref name="to"/>] to one listener, waiting on it as needed.
        /// Returns the seq it reached (or, after a reset, <paramref name="to"/>).
        /// </summary>
        private async Task<long> ReplayAsync(IFeedListener listener, long from, long to, CancellationToken cancellationToken)
        {
            while (from < to)
            {
                var read = await Updater.ReadAsync(from, (int)Math.Min(owner._options.ReadBatch, to - from));
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

        /// <summary>Fans out the events that follow on from <c>_last</c>, up to <see cref="MaxBatch"/> at a time. Holds the gate.</summary>
        private async Task DrainEarlyAsync()
        {
            while (_early.ContainsKey(_last + 1))
            {
                var run = new List<FeedEvent>();
                while (run.Count < MaxBatch && _early.Remove(_last + 1 + run.Count, out var next))
                {
                    run.Add(next);
                }

                await DeliverAsync(run);
            }
        }

        /// <summary>
        /// Hands the next events, encoded once, to every local listener, on the <see cref="FanOutThreads"/>; a big
        /// group is split over them (each listener is in one part, and the next events wait for all parts, so every
        /// listener gets events in order). Holds the gate.
        /// </summary>
        private async Task DeliverAsync(IReadOnlyList<FeedEvent> events)
        {
            _last = events[^1].Seq;
            var started = owner._time.GetTimestamp();
            var frame = FeedFrame.Create(events);
            var count = _slots.Count;
            var parts = Math.Clamp(count / ParallelChunk, 1, Environment.ProcessorCount);
            if (owner._fanOut is { } threads)
            {
                await threads.RunAsync(parts, p => DeliverRange(frame, count * p / parts, count * (p + 1) / parts));
            }
            else
            {
                DeliverRange(frame, 0, count);
            }

            owner._metrics?.Delivered(count * events.Count);
            owner._metrics?.FannedOut(owner._time.GetElapsedTime(started).TotalMilliseconds);
        }

        private void DeliverRange(FeedFrame frame, int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                var slot = _slots[i];
                if (slot.CatchingUp)
                {
                    slot.Held.Add(frame);
                    continue;
                }

                try
                {
                    slot.Listener.OnEvent(frame);
                }
                catch (Exception ex)
                {
                    LogListenerFailed(owner._logger, ex, Name);
                }
            }
        }
    }

    /// <summary>A local listener and, while it catches up after a resume, the live events held for it.</summary>
    private sealed class Slot(IFeedListener listener)
    {
        private List<FeedFrame>? _held;

        public IFeedListener Listener { get; } = listener;

        /// <summary>Where it is in its group's list (-1 once removed).</summary>
        public int Index { get; set; } = -1;

        public bool CatchingUp { get; set; }

        /// <summary>Live events held while catching up (made only for listeners that resume).</summary>
        public List<FeedFrame> Held => _held ??= [];

        /// <summary>Drops what was held.</summary>
        public void ClearHeld() => _held = null;
    }

    [LoggerMessage(3001, LogLevel.Debug, "Gateway subscribed to {Group} at seq {Seq}")]
    private static partial void LogSubscribed(ILogger logger, string group, long seq);

    [LoggerMessage(3002, LogLevel.Debug, "Gateway unsubscribed from {Group}")]
    private static partial void LogUnsubscribed(ILogger logger, string group);

    [LoggerMessage(3003, LogLevel.Debug, "Gateway filling {Group} from seq {From} to {To}")]
    private static partial void LogGap(ILogger logger, string group, long from, long to);

    [LoggerMessage(3004, LogLevel.Warning, "Gateway feed of {Group} could not reach its updater")]
    private static partial void LogRenewFailed(ILogger logger, Exception exception, string group);

    [LoggerMessage(3005, LogLevel.Warning, "A listener of {Group} failed")]
    private static partial void LogListenerFailed(ILogger logger, Exception exception, string group);
}
