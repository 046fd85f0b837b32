namespace BookShelf.Grains.Presence;

/// <summary>
/// One group's presence: the live reports of the gateway nodes, summed. A change is pushed to the watching nodes
/// at once when the last push was at least <see cref="PushSpacing"/> ago, otherwise once that spacing has passed
/// (so a burst of joins is one push); expired reports are looked for on the same timer, so a node that died
/// drops out within its lease plus a second.
/// </summary>
public sealed partial class PresenceGrain(TimeProvider time, ILogger<PresenceGrain> logger) : Grain, IPresenceGrain
{
    /// <summary>The shortest time between two pushes of one group.</summary>
    public static readonly TimeSpan PushSpacing = TimeSpan.FromSeconds(1);

    private readonly Dictionary<Guid, Report> _reports = [];
    private string _group = "";
    private int _pushed = -1;
    private DateTimeOffset _lastPush = DateTimeOffset.MinValue;
    private IGrainTimer? _timer;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _group = this.GetPrimaryKeyString();
        EnsureTimer();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<int> ReportAsync(Guid node, long version, int count, TimeSpan lease, IPresenceObserver? watcher)
    {
        if (count < 0 || lease <= TimeSpan.Zero || lease > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(count), "A count is at least 0 and a lease between 0 and 10 minutes.");
        }

        if (!_reports.TryGetValue(node, out var report) || report.Version < version)
        {
            _reports[node] = new Report(version, count, time.GetUtcNow() + lease, watcher);
        }
        else if (report.Version == version)
        {
            _reports[node] = report with { Expires = time.GetUtcNow() + lease };
        }

        // A node that reports 0 stays (with its version) until its lease runs out: an older report arriving late
        // cannot bring its connections back.
        EnsureTimer();
        PushIfDue();
        var total = Total();
        if (watcher is not null && total != _pushed)
        {
            // This watcher is told a total the others were not: whatever it is a second from now gets pushed, even
            // if it is the last pushed one again.
            _pushed = -1;
        }

        return Task.FromResult(total);
    }

    /// <inheritdoc />
    public Task<int> GetCountAsync()
    {
        DropExpired();
        return Task.FromResult(Total());
    }

    private Task TickAsync(CancellationToken cancellationToken)
    {
        DropExpired();
        PushIfDue();
        if (_reports.Count == 0)
        {
            // Nobody here and nobody to tell: let the activation go when it is idle.
            _timer?.Dispose();
            _timer = null;
            DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }

    private void EnsureTimer() =>
        _timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(PushSpacing, PushSpacing) { Interleave = false, KeepAlive = false });

    private void DropExpired()
    {
        var now = time.GetUtcNow();
        foreach (var (node, report) in _reports)
        {
            if (report.Expires < now)
            {
                _reports.Remove(node);
                LogExpired(logger, node, _group, report.Count);
            }
        }
    }

    private int Total()
    {
        var now = time.GetUtcNow();
        var total = 0;
        foreach (var report in _reports.Values)
        {
            if (report.Expires >= now)
            {
                total += report.Count;
            }
        }

        return total;
    }

    /// <summary>Pushes a changed total now if the last push was long enough ago; the timer pushes it otherwise.</summary>
    private void PushIfDue()
    {
        var total = Total();
        var now = time.GetUtcNow();
        if (total == _pushed || now - _lastPush < PushSpacing)
        {
            return;
        }

        _pushed = total;
        _lastPush = now;
        foreach (var report in _reports.Values)
        {
            if (report.Watcher is { } watcher && report.Expires >= now)
            {
                // One-way: a dead node cannot hold up the others.
                _ = watcher.OnPresenceAsync(_group, total);
            }
        }
    }

    private sealed record Report(long Version, int Count, DateTimeOffset Expires, IPresenceObserver? Watcher);

    [LoggerMessage(3601, LogLevel.Information, "Presence: node {Node} of {Group} dropped ({Count} connections): its lease ran out")]
    private static partial void LogExpired(ILogger logger, Guid node, string group, int count);
}
