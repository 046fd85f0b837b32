using System.Collections.Concurrent;
using BookShelf.Grains.Interfaces;
using BookShelf.Grains.Interfaces.Models;
using BookShelf.Gateway.Diagnostics;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// This gateway node's side of the fan-out. It owns the node's single <see cref="IGatewayObserver"/>, keeps
/// one <see cref="GroupFeed"/> per group that has local listeners (subscription and lease with the group's
/// updater; ordering and gap filling in <see cref="GroupSequencer"/>; delivery in <see cref="GroupListeners"/>),
/// renews every lease on a timer, and routes each push to its group.
/// </summary>
public sealed partial class GatewayFeed : IGatewayObserver, IAsyncDisposable
{
    /// <summary>Leases renewed at the same time.</summary>
    private const int RenewalsAtOnce = 32;

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
            var feed = _groups.GetOrAdd(group, NewGroup);
            if (await feed.AddAsync(self, listener, afterSeq, cancellationToken) is { } slot)
            {
                return new Subscription(feed, self, slot);
            }
        }
    }

    /// <summary>Stops renewing leases, as a node that hangs would (for tests of lease expiry).</summary>
    internal void PauseRenewals() => _renewalsPaused = true;

    /// <summary>Renews leases again after <see cref="PauseRenewals"/>.</summary>
    internal void ResumeRenewals() => _renewalsPaused = false;

    /// <summary>Renews every lease now and fills any gap it reveals (the timer does this periodically).</summary>
    internal async Task RenewAllAsync(CancellationToken cancellationToken)
    {
        var self = _self;
        if (self is null || _renewalsPaused)
        {
            return;
        }

        // Many groups renew side by side: renewing them one after another could take longer than a lease lasts.
        await Parallel.ForEachAsync(_groups.Values, new ParallelOptions { MaxDegreeOfParallelism = RenewalsAtOnce, CancellationToken = cancellationToken }, async (feed, token) =>
        {
            try
            {
                await feed.RenewAsync(self, token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                // Orleans fails a request that expired before a silo could place it with an OperationCanceledException:
                // that is a renewal that failed, not this node stopping (which cancels the token).
                LogRenewFailed(_logger, ex, feed.Name);
            }
        });
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
                    await feed.UnsubscribeAsync(self).WaitAsync(TimeSpan.FromSeconds(2));
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
            try
            {
                await RenewAllAsync(cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Whatever went wrong, the next tick renews again: a loop that ended would let every lease of this
                // node run out while its clients stayed connected and received nothing.
                LogRenewalsFailed(_logger, ex);
            }
        }
    }

    private sealed class Subscription(GroupFeed feed, IGatewayObserver self, FeedSlot slot) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() =>
            Interlocked.Exchange(ref _disposed, 1) == 0 ? new ValueTask(feed.RemoveAsync(self, slot)) : ValueTask.CompletedTask;
    }

    private GroupFeed NewGroup(string group) =>
        new(group, _grains, _options, new GroupListeners(group, _fanOut, _metrics, _time, _logger), _metrics, _logger,
            retire: feed => _groups.TryRemove(new KeyValuePair<string, GroupFeed>(feed.Name, feed)));

    [LoggerMessage(3006, LogLevel.Warning, "Gateway feed of {Group} could not renew its lease")]
    private static partial void LogRenewFailed(ILogger logger, Exception exception, string group);

    [LoggerMessage(3007, LogLevel.Warning, "Gateway feed: a pass over the leases failed; the next one follows on the timer")]
    private static partial void LogRenewalsFailed(ILogger logger, Exception exception);
}
