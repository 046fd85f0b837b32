using Orleans.Streams;

namespace BookShelf.Grains.Feed;

/// <summary>
/// One group's feed and fan-out. Events arrive from the post-event stream and, as a confirmation that cannot
/// be lost, straight from the post that raised them; both paths are idempotent by event key. Each new event
/// gets the group's next seq, is stored, and only then is pushed with one one-way call per subscribed gateway
/// node, so a slow or dead gateway never holds up the others. Gateways hold leases: one that stops renewing
/// is dropped.
/// </summary>
[ImplicitStreamSubscription(StorageNames.StreamNamespace)]
public sealed partial class UpdaterGrain(
    [PersistentState("feed", StorageNames.Feeds)] IPersistentState<FeedState> state,
    IOptions<FeedOptions> options,
    TimeProvider time,
    Diagnostics.FeedMetrics metrics,
    ILogger<UpdaterGrain> logger) : Grain, IUpdaterGrain
{
    private readonly FeedOptions _options = options.Value;
    private readonly Dictionary<IGatewayObserver, DateTimeOffset> _leases = [];
    private readonly Dictionary<string, long> _recent = new(StringComparer.Ordinal);
    private readonly Queue<(string Key, long Seq)> _recentOrder = new();
    private readonly Dictionary<long, IReadOnlyList<FeedEvent>> _pageCache = [];
    private string _group = "";

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _group = this.GetPrimaryKeyString();
        await LoadRecentKeysAsync();

        var stream = this.GetStreamProvider(StorageNames.StreamProvider)
            .GetStream<FeedEvent>(StreamId.Create(StorageNames.StreamNamespace, _group));
        await stream.SubscribeAsync((feedEvent, _) => AppendAsync(feedEvent));

        // A crash between storing a full tail and sealing it leaves the tail full: seal it now.
        await SealFullPagesAsync();
    }

    /// <inheritdoc />
    public async Task<long> AppendAsync(FeedEvent feedEvent)
    {
        ArgumentNullException.ThrowIfNull(feedEvent);
        if (_recent.TryGetValue(feedEvent.Key, out var existing))
        {
            return existing;
        }

        var head = state.State;
        var stamped = feedEvent with { Seq = head.LastSeq + 1, Group = _group };
        head.Tail.Add(stamped);
        head.LastSeq = stamped.Seq;
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception ex)
        {
            // Storage did not take it: undo in memory so this activation never serves an event it did not store.
            head.Tail.RemoveAt(head.Tail.Count - 1);
            head.LastSeq = stamped.Seq - 1;
            LogAppendFailed(logger, ex, _group, feedEvent.Key);
            throw;
        }

        Remember(stamped);
        metrics.Appended(_group);
        LogAppended(logger, _group, stamped.Seq, stamped.Key);
        FanOut([stamped]);
        await SealFullPagesAsync();
        return stamped.Seq;
    }

    /// <inheritdoc />
    public Task<long> SubscribeAsync(IGatewayObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var isNew = !_leases.ContainsKey(observer);
        _leases[observer] = time.GetUtcNow() + _options.LeaseDuration;
        if (isNew)
        {
            LogSubscribed(logger, _group, _leases.Count);
        }

        return Task.FromResult(state.State.LastSeq);
    }

    /// <inheritdoc />
    public Task UnsubscribeAsync(IGatewayObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        if (_leases.Remove(observer))
        {
            LogUnsubscribed(logger, _group, _leases.Count);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<FeedStats> GetStatsAsync()
    {
        DropExpiredLeases();
        return Task.FromResult(new FeedStats(state.State.LastSeq, _leases.Count));
    }

    /// <inheritdoc />
    public async Task<FeedRead> ReadAsync(long afterSeq, int max)
    {
        var last = state.State.LastSeq;
        afterSeq = Math.Max(0, afterSeq);
        if (afterSeq >= last || max <= 0)
        {
            return new FeedRead([], last, Reset: false);
        }

        if (last - afterSeq > _options.MaxReplay)
        {
            return new FeedRead([], last, Reset: true);
        }

        var to = Math.Min(last, afterSeq + max);
        metrics.Read(_group);
        return new FeedRead(await CollectAsync(afterSeq + 1, to), last, Reset: false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FeedEvent>> ReadLatestAsync(long beforeSeq, int max)
    {
        var last = state.State.LastSeq;
        var to = beforeSeq <= 0 ? last : Math.Min(last, beforeSeq - 1);
        if (to < 1 || max <= 0)
        {
            return [];
        }

        var from = Math.Max(1, to - max + 1);
        var events = await CollectAsync(from, to);
        events.Reverse();
        return events;
    }

    /// <summary>Events with seq in [from, to], oldest first, from sealed pages and the tail.</summary>
    private async Task<List<FeedEvent>> CollectAsync(long from, long to)
    {
        var head = state.State;
        var pageSize = _options.PageSize;
        var tailStart = (head.SealedPages * pageSize) + 1;
        var result = new List<FeedEvent>((int)(to - from + 1));
        for (var seq = from; seq <= to && seq < tailStart;)
        {
            var page = (seq - 1) / pageSize;
            var events = await GetPageAsync(page);
            foreach (var e in events)
            {
                if (e.Seq >= seq && e.Seq <= to)
                {
                    result.Add(e);
                }
            }

            seq = ((page + 1) * pageSize) + 1;
        }

        foreach (var e in head.Tail)
        {
            if (e.Seq >= from && e.Seq <= to)
            {
                result.Add(e);
            }
        }

        return result;
    }

    private async Task<IReadOnlyList<FeedEvent>> GetPageAsync(long page)
    {
        if (_pageCache.TryGetValue(page, out var cached))
        {
            return cached;
        }

        var events = await GrainFactory.GetGrain<IFeedPageGrain>(PageKey(page)).ReadAsync();
        if (_pageCache.Count >= 8)
        {
            _pageCache.Remove(_pageCache.Keys.Min());
        }

        _pageCache[page] = events;
        return events;
    }

    private string PageKey(long page) => $"{_group}/{page}";

    /// <summary>
    /// Rebuilds the keys of the last <see cref="FeedOptions.DedupWindow"/> events from the stored events themselves
    /// (the tail, then sealed pages backwards), so the feed head written on every append carries no key list.
    /// </summary>
    private async Task LoadRecentKeysAsync()
    {
        var head = state.State;
        var window = _options.DedupWindow;
        var newestFirst = new List<FeedEvent>(window);
        newestFirst.AddRange(Enumerable.Reverse(head.Tail).Take(window));
        for (var page = head.SealedPages - 1; page >= 0 && newestFirst.Count < window; page--)
        {
            newestFirst.AddRange(Enumerable.Reverse(await GetPageAsync(page)).Take(window - newestFirst.Count));
        }

        head.RecentKeys = [];
        foreach (var e in Enumerable.Reverse(newestFirst))
        {
            Remember(e);
        }
    }

    /// <summary>Remembers an appended event's key, forgetting the oldest beyond the dedup window.</summary>
    private void Remember(FeedEvent appended)
    {
        _recent[appended.Key] = appended.Seq;
        _recentOrder.Enqueue((appended.Key, appended.Seq));
        while (_recentOrder.Count > _options.DedupWindow)
        {
            var (key, seq) = _recentOrder.Dequeue();
            if (_recent.TryGetValue(key, out var current) && current == seq)
            {
                _recent.Remove(key);
            }
        }
    }

    private async Task SealFullPagesAsync()
    {
        var head = state.State;
        var pageSize = _options.PageSize;
        while (head.Tail.Count >= pageSize)
        {
            var page = head.SealedPages;
            var events = head.Tail.GetRange(0, pageSize);
            await GrainFactory.GetGrain<IFeedPageGrain>(PageKey(page)).WriteAsync(events);
            head.Tail.RemoveRange(0, pageSize);
            head.SealedPages = page + 1;
            try
            {
                await state.WriteStateAsync();
            }
            catch
            {
                // The page is stored; keeping the events in the tail too is harmless and the next write seals again.
                head.Tail.InsertRange(0, events);
                head.SealedPages = page;
                throw;
            }

            _pageCache[page] = events;
            LogSealed(logger, _group, page);
        }
    }

    private void FanOut(IReadOnlyList<FeedEvent> events)
    {
        DropExpiredLeases();
        foreach (var observer in _leases.Keys)
        {
            // One-way: returns at once, whatever the gateway does with it.
            _ = observer.OnEventsAsync(_group, events);
        }

        metrics.FannedOut(_leases.Count);
    }

    private void DropExpiredLeases()
    {
        if (_leases.Count == 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        var expired = 0;
        foreach (var (observer, expires) in _leases)
        {
            if (expires < now)
            {
                _leases.Remove(observer);
                expired++;
            }
        }

        if (expired > 0)
        {
            LogLeasesExpired(logger, _group, expired, _leases.Count);
        }
    }

    [LoggerMessage(1001, LogLevel.Debug, "Feed {Group} appended seq {Seq} ({Key})")]
    private static partial void LogAppended(ILogger logger, string group, long seq, string key);

    [LoggerMessage(1002, LogLevel.Warning, "Feed {Group} could not store {Key}")]
    private static partial void LogAppendFailed(ILogger logger, Exception exception, string group, string key);

    [LoggerMessage(1003, LogLevel.Debug, "Feed {Group} sealed page {Page}")]
    private static partial void LogSealed(ILogger logger, string group, long page);

    [LoggerMessage(1004, LogLevel.Debug, "Feed {Group}: gateway subscribed ({Count} now)")]
    private static partial void LogSubscribed(ILogger logger, string group, int count);

    [LoggerMessage(1005, LogLevel.Debug, "Feed {Group}: gateway unsubscribed ({Count} left)")]
    private static partial void LogUnsubscribed(ILogger logger, string group, int count);

    [LoggerMessage(1006, LogLevel.Information, "Feed {Group}: {Expired} gateway lease(s) expired ({Count} left)")]
    private static partial void LogLeasesExpired(ILogger logger, string group, int expired, int count);
}
