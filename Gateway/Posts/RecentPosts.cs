using BookShelf.Gateway.Feed;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// The newest posts of the site feed, held by this gateway so the home page and <c>GET /api/posts</c> are served
/// from memory instead of queueing behind the site updater's writes. It listens to the site group like a
/// connection does (replayed from <see cref="Capacity"/> posts back, then live, in seq order, without gaps), and
/// once a second asks the feed for its last seq: it answers only while it has caught up with what the feed held
/// at the last such probe (so at most about a second behind, and never when its subscription is stuck); otherwise
/// the caller reads the feed itself. A post created through this gateway is in it before its 201 (see
/// <see cref="WaitForAsync"/>), so a script reads its own writes here.
/// </summary>
public sealed partial class RecentPosts(IGrainFactory grains, GatewayFeed feed, TimeProvider time, ILogger<RecentPosts> logger) : BackgroundService, IFeedListener
{
    /// <summary>Posts held: the list's first pages.</summary>
    public const int Capacity = 200;

    /// <summary>How often the feed's last seq is probed, and (times three) how old a probe may be to answer from memory.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly List<FeedEvent> _events = [];
    private readonly HashSet<long> _ids = [];
    private readonly Dictionary<long, TaskCompletionSource> _waiters = [];
    private bool _live;
    private long _lastSeq;
    private long _probedSeq = long.MaxValue;
    private long _probedAt;
    private TaskCompletionSource _reset = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// The posts with seq below <paramref name="before"/> (0: the newest), newest first, at most
    /// <paramref name="limit"/>, and the seq the list is complete up to; false when memory cannot answer.
    /// </summary>
    public bool TryList(long before, int limit, out IReadOnlyList<FeedEvent> events, out long lastSeq)
    {
        lock (_lock)
        {
            events = [];
            lastSeq = _lastSeq;
            if (!Fresh())
            {
                return false;
            }

            var top = before <= 0 ? _lastSeq : Math.Min(before - 1, _lastSeq);
            var firstHeld = _events.Count > 0 ? _events[0].Seq : _lastSeq + 1;
            var bottom = Math.Max(1, top - limit + 1);
            if (top >= 1 && bottom < firstHeld)
            {
                return false;
            }

            var list = new List<FeedEvent>((int)Math.Max(0, top - bottom + 1));
            for (var seq = top; seq >= bottom; seq--)
            {
                list.Add(_events[(int)(seq - firstHeld)]);
            }

            events = list;
            return true;
        }
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) until post <paramref name="postId"/> is held; at once when not live.</summary>
    public async Task WaitForAsync(long postId, TimeSpan timeout)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (!_live || _ids.Contains(postId))
            {
                return;
            }

            if (!_waiters.TryGetValue(postId, out waiter!))
            {
                waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters[postId] = waiter;
            }
        }

        try
        {
            await waiter.Task.WaitAsync(timeout, time);
        }
        catch (TimeoutException)
        {
            LogNotSeen(logger, postId, timeout.TotalMilliseconds);
            lock (_lock)
            {
                _waiters.Remove(postId);
            }
        }
    }

    /// <inheritdoc />
    public void OnEvent(FeedFrame frame) => Add(frame.Events);

    /// <inheritdoc />
    public ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken)
    {
        Add(frame.Events);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public void OnSubscribed(string group, long lastSeq)
    {
        lock (_lock)
        {
            if (lastSeq != _lastSeq)
            {
                // Not everything up to there was replayed to us: start over from there.
                Clear(lastSeq);
            }

            _live = true;
        }
    }

    /// <inheritdoc />
    public void OnReset(string group, long lastSeq)
    {
        lock (_lock)
        {
            Clear(lastSeq);
            _reset.TrySetResult();
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var site = grains.GetGrain<IUpdaterGrain>(Groups.Site);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var last = (await site.GetStatsAsync()).LastSeq;
                var from = Math.Max(0, last - Capacity);
                TaskCompletionSource reset;
                lock (_lock)
                {
                    _live = false;
                    Clear(from);
                    reset = _reset = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                await using var subscription = await feed.SubscribeAsync(Groups.Site, from, this, stoppingToken);
                while (!reset.Task.IsCompleted)
                {
                    Probed((await site.GetStatsAsync()).LastSeq);

                    await Task.WhenAny(Task.Delay(ProbeInterval, time, stoppingToken), reset.Task);
                    stoppingToken.ThrowIfCancellationRequested();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The cluster is unreachable: lists go to the feed (and fail there honestly) until this recovers.
                LogFailed(logger, ex);
                lock (_lock)
                {
                    _live = false;
                }

                await Task.Delay(ProbeInterval, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Records the feed's last seq as a probe found it now.</summary>
    internal void Probed(long feedLastSeq)
    {
        lock (_lock)
        {
            _probedSeq = feedLastSeq;
            _probedAt = time.GetTimestamp();
        }
    }

    /// <summary>Live, and caught up with the feed as the last probe (not too old) found it. Holds the lock.</summary>
    private bool Fresh() =>
        _live && _lastSeq >= _probedSeq && time.GetElapsedTime(_probedAt) <= ProbeInterval * 3;

    private void Add(IReadOnlyList<FeedEvent> events)
    {
        lock (_lock)
        {
            foreach (var e in events)
            {
                if (e.Seq <= _lastSeq)
                {
                    continue;
                }

                if (e.Seq != _lastSeq + 1)
                {
                    // The listener contract gives every seq once, in order: a gap means this copy is broken. Lists
                    // go to the feed (memory no longer catches up with the probe) until it is rebuilt.
                    LogGap(logger, _lastSeq, e.Seq);
                    _reset.TrySetResult();
                    break;
                }

                _events.Add(e);
                _ids.Add(e.PostId);
                _lastSeq = e.Seq;
                if (_waiters.Remove(e.PostId, out var waiter))
                {
                    waiter.TrySetResult();
                }
            }

            var extra = _events.Count - Capacity;
            if (extra > 0)
            {
                foreach (var old in _events.GetRange(0, extra))
                {
                    _ids.Remove(old.PostId);
                }

                _events.RemoveRange(0, extra);
            }
        }
    }

    /// <summary>Forgets every post held: the next one expected is <paramref name="lastSeq"/> + 1. Holds the lock.</summary>
    private void Clear(long lastSeq)
    {
        _events.Clear();
        _ids.Clear();
        _lastSeq = lastSeq;
    }

    [LoggerMessage(3101, LogLevel.Warning, "Recent posts: the site feed could not be followed; lists read the feed until it can")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(3103, LogLevel.Warning, "Recent posts: seq {Seq} came after {LastSeq}; rebuilding from the feed")]
    private static partial void LogGap(ILogger logger, long lastSeq, long seq);

    [LoggerMessage(3102, LogLevel.Debug, "Recent posts: post {PostId} was not seen within {Milliseconds} ms of its creation")]
    private static partial void LogNotSeen(ILogger logger, long postId, double milliseconds);
}
