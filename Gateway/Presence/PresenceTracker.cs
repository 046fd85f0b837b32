using BookShelf.Grains.Interfaces;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Presence;

/// <summary>
/// This gateway node's side of presence: how many of its connections are in each group, reported to that
/// group's <see cref="IPresenceGrain"/> (changes within <see cref="PresenceOptions.ReportSpacing"/>, every count
/// again each <see cref="PresenceOptions.RenewInterval"/> under a <see cref="PresenceOptions.Lease"/>), and the
/// totals the grains push back, handed to the local connections that asked. A connection counts in every group
/// it is in, whether it asked for presence or not.
/// </summary>
public sealed partial class PresenceTracker : IPresenceObserver, IAsyncDisposable
{
    private readonly IGrainFactory _grains;
    private readonly PresenceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PresenceTracker> _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, GroupPresence> _groups = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private IPresenceObserver? _self;
    private Task _loop = Task.CompletedTask;
    private long _version;
    private int _disposed;

    /// <summary>Creates the tracker; call <see cref="Start"/> once the cluster client is connected.</summary>
    public PresenceTracker(IGrainFactory grains, IOptions<PresenceOptions> options, TimeProvider time, ILogger<PresenceTracker> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _grains = grains;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>This node's identity in the reports (new each start: a restarted node's old reports simply expire).</summary>
    public Guid Node { get; } = Guid.NewGuid();

    /// <summary>Creates the node's observer and starts reporting.</summary>
    public void Start()
    {
        if (_self is not null)
        {
            return;
        }

        _self = _grains.CreateObjectReference<IPresenceObserver>(this);
        _loop = ReportLoopAsync(_stopping.Token);
    }

    /// <summary>A local connection joined <paramref name="group"/>.</summary>
    public void Joined(string group) => Change(group, 1);

    /// <summary>A local connection left <paramref name="group"/>.</summary>
    public void Left(string group) => Change(group, -1);

    /// <summary>
    /// Pushes the group's total to <paramref name="listener"/> from now on, and returns the total now (this node's
    /// count reported first, so it includes the connection that asked). Throws when the cluster cannot be reached.
    /// </summary>
    public async Task<int> WatchAsync(string group, IPresenceListener listener)
    {
        lock (_lock)
        {
            Get(group).Watchers.Add(listener);
        }

        return await ReportAsync(group);
    }

    /// <summary>Stops pushing to <paramref name="listener"/>.</summary>
    public void Unwatch(string group, IPresenceListener listener)
    {
        lock (_lock)
        {
            if (_groups.TryGetValue(group, out var presence))
            {
                presence.Watchers.Remove(listener);
                presence.Dirty = true;
            }
        }
    }

    /// <summary>The group's cluster-wide count now.</summary>
    public Task<int> CountAsync(string group) => _grains.GetGrain<IPresenceGrain>(group).GetCountAsync();

    /// <inheritdoc />
    Task IPresenceObserver.OnPresenceAsync(string group, int count)
    {
        IPresenceListener[] watchers;
        lock (_lock)
        {
            if (!_groups.TryGetValue(group, out var presence))
            {
                return Task.CompletedTask;
            }

            watchers = [.. presence.Watchers];
        }

        foreach (var watcher in watchers)
        {
            watcher.OnPresence(group, count);
        }

        return Task.CompletedTask;
    }

    /// <summary>Reports every group now, as the renewal timer does (tests).</summary>
    internal Task ReportAllAsync() => ReportGroupsAsync(all: true);

    /// <summary>Stops reporting without a goodbye, as a node that hangs or dies would (tests of lease expiry).</summary>
    internal void Halt()
    {
        _stopping.Cancel();
        Interlocked.Exchange(ref _disposed, 1);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Goodbye: this node's connections leave every total now rather than when the lease runs out.
        string[] groups;
        lock (_lock)
        {
            foreach (var presence in _groups.Values)
            {
                presence.Count = 0;
                presence.Watchers.Clear();
            }

            groups = [.. _groups.Keys];
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await ((Task)Task.WhenAll(groups.Select(g => ReportAsync(g).WaitAsync(timeout.Token)))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_self is { } self)
        {
            _grains.DeleteObjectReference<IPresenceObserver>(self);
        }
    }

    private void Change(string group, int delta)
    {
        lock (_lock)
        {
            var presence = Get(group);
            presence.Count = Math.Max(0, presence.Count + delta);
            presence.Dirty = true;
        }

        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    private GroupPresence Get(string group)
    {
        if (!_groups.TryGetValue(group, out var presence))
        {
            presence = new GroupPresence();
            _groups[group] = presence;
        }

        return presence;
    }

    private async Task ReportLoopAsync(CancellationToken stopping)
    {
        var lastRenewal = _time.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var untilRenewal = _options.RenewInterval - _time.GetElapsedTime(lastRenewal);
                if (untilRenewal > TimeSpan.Zero)
                {
                    await _changed.WaitAsync(untilRenewal, stopping);
                }

                var renew = _time.GetElapsedTime(lastRenewal) >= _options.RenewInterval;
                if (renew)
                {
                    lastRenewal = _time.GetTimestamp();
                }

                await ReportGroupsAsync(all: renew);
                await Task.Delay(_options.ReportSpacing, _time, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogReportFailed(_logger, ex);
            }
        }
    }

    /// <summary>Reports the changed groups (or all), side by side; forgets groups that are empty and reported.</summary>
    private async Task ReportGroupsAsync(bool all)
    {
        string[] groups;
        lock (_lock)
        {
            groups = [.. _groups.Where(g => all || g.Value.Dirty).Select(g => g.Key)];
        }

        await Parallel.ForEachAsync(groups, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (group, _) =>
        {
            try
            {
                await ReportAsync(group);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
            {
                LogReportFailed(_logger, ex);
                lock (_lock)
                {
                    if (_groups.TryGetValue(group, out var presence))
                    {
                        presence.Dirty = true; // try again next round
                    }
                }
            }
        });
    }

    private async Task<int> ReportAsync(string group)
    {
        int count;
        long version;
        bool watching;
        lock (_lock)
        {
            var presence = Get(group);
            count = presence.Count;
            watching = presence.Watchers.Count > 0;
            presence.Dirty = false;
            // Taken with the count it goes with: the grain keeps the newest snapshot whatever order calls arrive in.
            version = ++_version;
        }

        int total;
        try
        {
            total = await _grains.GetGrain<IPresenceGrain>(group).ReportAsync(Node, version, count, _options.Lease, watching ? _self : null);
        }
        catch
        {
            lock (_lock)
            {
                Get(group).Dirty = true; // the next round reports it again
            }

            throw;
        }

        lock (_lock)
        {
            if (_groups.TryGetValue(group, out var presence) && presence is { Count: 0, Watchers.Count: 0, Dirty: false })
            {
                _groups.Remove(group);
            }
        }

        return total;
    }

    private sealed class GroupPresence
    {
        public int Count { get; set; }

        public bool Dirty { get; set; }

        public List<IPresenceListener> Watchers { get; } = [];
    }

    [LoggerMessage(4401, LogLevel.Warning, "Presence: a report did not reach the cluster; it is sent again")]
    private static partial void LogReportFailed(ILogger logger, Exception exception);
}
