using Orleans.Streams;

namespace BookShelf.Grains.Feed;

/// <summary>
/// One group's feed and fan-out: a thin shell that stores and calls; the rules live in
/// <see cref="AppendedKeys"/> (exact idempotency), <see cref="FeedState"/> (sequencing),
/// <see cref="FeedReader"/> (pages), <see cref="PageSealer"/> (sealing full pages off the append's path) and
/// <see cref="GatewayLeases{T}"/> (subscriptions).
/// Events arrive from the post-event stream and, as the confirmation that cannot be lost, straight from the
/// post that raised them, batched per silo by the <see cref="FeedAppender"/>; both are appended once, whatever
/// arrives first and however late a copy comes. Each new event gets the group's next seq; a batch is stored in
/// one write, and only then is pushed with one one-way call per subscribed gateway node, so a slow or dead
/// gateway never holds up the others.
/// </summary>
[ImplicitStreamSubscription(StorageNames.StreamNamespace)]
public sealed partial class UpdaterGrain(
    [PersistentState("feed", StorageNames.Feeds)] IPersistentState<FeedState> state,
    IOptions<FeedOptions> options,
    TimeProvider time,
    Diagnostics.FeedMetrics metrics,
    ILogger<UpdaterGrain> logger) : Grain, IUpdaterGrain
{
    /// <summary>
    /// How long an activation may go without touching storage before it reads its head again. A silo paused past
    /// its death declaration (several seconds) keeps its activations until it learns so, while another silo
    /// serves the group: when the paused one runs again, its first call finds it idle that long and reads the
    /// truth instead of answering (reads, lease renewals, appends) from a stale memory.
    /// </summary>
    private const long FreshForMilliseconds = 1000;

    private static readonly IReadOnlyDictionary<string, long> NoKeys = new Dictionary<string, long>().AsReadOnly();
    private readonly FeedOptions _options = options.Value;
    private AppendedKeys _keys = new(options.Value.CachedIndexBuckets);
    private long _storageTouched = Environment.TickCount64;
    private readonly GatewayLeases<IGatewayObserver> _leases = new(time, options.Value.LeaseDuration);
    private FeedReader _reader = null!;
    private string _group = "";

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _group = this.GetPrimaryKeyString();
        UseStoredPageSize();
        state.State.StartRecordingIndexedBuckets();
        _keys.ResetTail(state.State.Tail);

        var stream = this.GetStreamProvider(StorageNames.StreamProvider)
            .GetStream<FeedEvent>(StreamId.Create(StorageNames.StreamNamespace, _group));
        // A stream batch (a silo's gathered copies for this group) is appended as one batch: one turn, at most one write.
        await stream.SubscribeAsync((IList<SequentialItem<FeedEvent>> items) => AppendBatchAsync([.. items.Select(i => i.Item)]));

        // A crash between storing a full tail and sealing it leaves the tail full: seal it now.
        await SealFullPagesAsync();
    }

    /// <inheritdoc />
    public async Task<long> AppendAsync(FeedEvent feedEvent)
    {
        ArgumentNullException.ThrowIfNull(feedEvent);
        return (await AppendBatchAsync([feedEvent]))[0];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<long>> AppendBatchAsync(IReadOnlyList<FeedEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        await RefreshIfIdleAsync();
        var seqs = new long[events.Count];

        // Every lookup first (it may read the index, and fail): nothing is stamped until all are known.
        var known = new long?[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            var feedEvent = events[i] ?? throw new ArgumentException("An event is null.", nameof(events));
            known[i] = await FindAsync(feedEvent.Key);
        }

        var head = state.State;
        var stamped = new List<FeedEvent>();
        Dictionary<string, long>? inBatch = null;
        for (var i = 0; i < events.Count; i++)
        {
            var feedEvent = events[i];
            if (known[i] is { } seq)
            {
                metrics.Repeated(_group);
                seqs[i] = seq;
                continue;
            }

            inBatch ??= new(StringComparer.Ordinal);
            if (inBatch.TryGetValue(feedEvent.Key, out var earlier))
            {
                // Two copies in one batch: the second is the first.
                metrics.Repeated(_group);
                seqs[i] = earlier;
                continue;
            }

            var e = head.Stamp(feedEvent, _group);
            inBatch[e.Key] = e.Seq;
            stamped.Add(e);
            seqs[i] = e.Seq;
        }

        if (stamped.Count == 0)
        {
            return seqs;
        }

        // The same write lets go of a page stored meanwhile, if one waits (no write of its own for that).
        var letGo = _sealer.TakeStored(head, _reader.PageSize);
        try
        {
            await state.WriteStateAsync();
            _storageTouched = Environment.TickCount64;
        }
        catch (Exception ex)
        {
            // Storage did not take them, or we cannot tell: undo in memory so this activation never serves an
            // event it may not have stored, and read the truth again from storage on the next activation.
            head.Unstamp(stamped.Count);
            if (letGo is not null)
            {
                PageSealer.Undo(head, letGo);
            }

            DeactivateOnIdle();
            LogAppendFailed(logger, ex, _group, stamped.Count, stamped[0].Key);
            throw;
        }

        OnPageLetGo(letGo);

        foreach (var e in stamped)
        {
            _keys.Appended(e);
            metrics.Appended(_group);
        }

        LogAppended(logger, _group, stamped[0].Seq, stamped[^1].Seq);
        FanOut(stamped);
        StartSealing();
        return seqs;
    }

    /// <summary>The seq of <paramref name="key"/> when the feed holds it (in the tail or sealed), else null.</summary>
    private async Task<long?> FindAsync(string key)
    {
        var known = _keys.Find(key);
        if (known.State == KeyState.NeedsBucket)
        {
            // A bucket above every indexed one of its source holds nothing yet: no read (its keys, once sealed, join the cache).
            var bucket = known.Bucket!;
            _keys.AddBucket(bucket, state.State.IndexHasNo(bucket) ? NoKeys : await GrainFactory.GetGrain<IFeedIndexGrain>(IndexKey(bucket)).ReadAsync());
            known = _keys.Find(key);
        }

        return known.State is KeyState.InTail or KeyState.Sealed ? known.Seq : null;
    }

    /// <inheritdoc />
    public async Task<long> SubscribeAsync(IGatewayObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        await RefreshIfIdleAsync();
        if (_leases.Renew(observer))
        {
            LogSubscribed(logger, _group, _leases.Count);
        }

        return state.State.LastSeq;
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
    public async Task<FeedStats> GetStatsAsync()
    {
        await RefreshIfIdleAsync();
        DropExpiredLeases();
        return new FeedStats(state.State.LastSeq, _leases.Count);
    }

    /// <inheritdoc />
    public async Task<FeedRead> ReadAsync(long afterSeq, int max)
    {
        await RefreshIfIdleAsync();
        metrics.Read(_group);
        return await _reader.ReadAfterAsync(state.State, afterSeq, max);
    }

    /// <inheritdoc />
    public async Task<FeedRead> ReadGapAsync(long afterSeq, int max)
    {
        await RefreshIfIdleAsync();
        metrics.Read(_group);
        return await _reader.ReadAfterAsync(state.State, afterSeq, max, bounded: false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FeedEvent>> ReadLatestAsync(long beforeSeq, int max)
    {
        await RefreshIfIdleAsync();
        return await _reader.ReadLatestAsync(state.State, beforeSeq, max);
    }

    /// <summary>
    /// Reads the head again when this activation has not touched storage for <see cref="FreshForMilliseconds"/>,
    /// forgetting the keys it held (another activation may have appended and sealed meanwhile).
    /// </summary>
    private async Task RefreshIfIdleAsync()
    {
        if (Environment.TickCount64 - _storageTouched < FreshForMilliseconds)
        {
            return;
        }

        try
        {
            // A read that fails may still have replaced the head (and its ETag): nothing is answered or written from it,
            // because every call comes through here again until a read succeeds, and the activation goes.
            await state.ReadStateAsync();
            UseStoredPageSize();
            state.State.StartRecordingIndexedBuckets();
        }
        catch
        {
            // A head this activation cannot read right is never served or stored over: the next call reads it again.
            DeactivateOnIdle();
            throw;
        }

        _storageTouched = Environment.TickCount64;
        _keys = new AppendedKeys(_options.CachedIndexBuckets);
        _keys.ResetTail(state.State.Tail);
    }

    /// <summary>
    /// Reads and seals pages of the size the stored head was sealed with (<see cref="FeedState.PageSizeOr"/>): another
    /// activation, or a silo configured differently, may have sealed the first page meanwhile.
    /// </summary>
    private void UseStoredPageSize()
    {
        // The head records its size with its next write (a new feed's first), before any page of it is stored: a page
        // stored and not yet let go of by the head is cut at the size the head keeps, whatever the setting says by then.
        var pageSize = state.State.PageSizeOr(_options.PageSize, _group);
        state.State.PageSize = pageSize;

        if (_reader is not null && _reader.PageSize == pageSize)
        {
            return;
        }

        if (pageSize != _options.PageSize)
        {
            LogKeepsPageSize(logger, _group, pageSize, _options.PageSize);
        }

        _reader = new FeedReader(pageSize, _options.MaxReplay, page => GrainFactory.GetGrain<IFeedPageGrain>(PageKey(page)).ReadAsync());
    }

    private string PageKey(long page) => $"{_group}/{page}";

    private string IndexKey(string bucket) => $"{_group}|{bucket}";

    private void FanOut(IReadOnlyList<FeedEvent> events)
    {
        DropExpiredLeases();
        foreach (var observer in _leases.Holders)
        {
            // One-way: returns at once, whatever the gateway does with it.
            _ = observer.OnEventsAsync(_group, events);
        }

        metrics.FannedOut(_leases.Count);
    }

    private void DropExpiredLeases()
    {
        if (_leases.DropExpired() is > 0 and var expired)
        {
            LogLeasesExpired(logger, _group, expired, _leases.Count);
        }
    }

    [LoggerMessage(1001, LogLevel.Debug, "Feed {Group} appended seq {First} to {Last}")]
    private static partial void LogAppended(ILogger logger, string group, long first, long last);

    [LoggerMessage(1002, LogLevel.Warning, "Feed {Group} could not store {Count} event(s) from {Key}")]
    private static partial void LogAppendFailed(ILogger logger, Exception exception, string group, int count, string key);

    [LoggerMessage(1004, LogLevel.Debug, "Feed {Group}: gateway subscribed ({Count} now)")]
    private static partial void LogSubscribed(ILogger logger, string group, int count);

    [LoggerMessage(1005, LogLevel.Debug, "Feed {Group}: gateway unsubscribed ({Count} left)")]
    private static partial void LogUnsubscribed(ILogger logger, string group, int count);

    [LoggerMessage(1007, LogLevel.Debug, "Feed {Group} keeps the page size its head recorded, {PageSize} (Feed:PageSize {Configured} applies to new feeds)")]
    private static partial void LogKeepsPageSize(ILogger logger, string group, int pageSize, int configured);

    [LoggerMessage(1006, LogLevel.Information, "Feed {Group}: {Expired} gateway lease(s) expired ({Count} left)")]
    private static partial void LogLeasesExpired(ILogger logger, string group, int expired, int count);
}
