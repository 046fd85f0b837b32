namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// The session's groups: joining (only groups that exist), leaving, the per-connection limit on how often it
/// may change them, each group's position (the last seq this connection has), and its part in the group's
/// presence (counted while in the group; pushed the count when it asked).
/// </summary>
public sealed partial class WebSocketSession
{
    private bool _urlPresence;
    private IReadOnlySet<string> _uncounted = new HashSet<string>();

    /// <summary>
    /// Joins groups before the upgrade is answered, so that once a client sees it succeed it gets every later
    /// event. With <paramref name="announce"/> false no <c>subscribed</c> frame is sent: the original BookShelf
    /// client, on a bare URL, gets nothing but post frames. Events wait in the backlog until <see cref="Attach"/>.
    /// </summary>
    public async Task JoinAsync(IEnumerable<string> groups, bool announce, bool presence, IReadOnlySet<string>? uncounted, CancellationToken cancellationToken)
    {
        _urlPresence = presence;
        _uncounted = uncounted ?? _uncounted;
        foreach (var group in groups)
        {
            await SubscribeAsync(group, resume: null, announce, presence, cancellationToken);
        }
    }

    /// <inheritdoc />
    public void OnPresence(string group, int count)
    {
        lock (_lock)
        {
            // Only a change: a push that repeats what this connection was last told is not sent again.
            if (Find(group) is { Presence: true } position && position.LastPresence != count)
            {
                position.LastPresence = count;
                SendLocked(Control(ControlFrames.Presence(group, count)));
            }
        }
    }

    /// <summary>Holds the connection's place under the caps until the session leaves.</summary>
    public void Hold(IDisposable lease) => _lease = lease;

    /// <summary>Leaves every group (when the connection ends, or when it was never upgraded), and gives back its place under the caps.</summary>
    public async Task LeaveAllAsync()
    {
        Interlocked.Exchange(ref _lease, null)?.Dispose();
        GroupPosition[] all;
        lock (_lock)
        {
            all = _groups;
            _groups = [];
        }

        foreach (var position in all)
        {
            LeavePresence(position);
            if (position.Subscription is { } subscription)
            {
                await subscription.DisposeAsync();
                _metrics.Subscription(position.Group, -1);
            }
        }
    }

    /// <summary>Takes one of the connection's subscription changes for this minute (a sliding window); false when they are used up.</summary>
    private bool TakeChange()
    {
        var now = Environment.TickCount64;
        while (_changes.Count > 0 && now - _changes.Peek() >= 60_000)
        {
            _changes.Dequeue();
        }

        if (_changes.Count >= _options.SubscriptionChangesPerMinute)
        {
            return false;
        }

        _changes.Enqueue(now);
        return true;
    }

    private async Task SubscribeAsync(string group, long? resume, bool announce, bool presence, CancellationToken cancellationToken, bool counted = true)
    {
        if (!Groups.IsValid(group))
        {
            Send(ControlFrames.Error("unknown_group", $"'{Truncate(group)}' is not a group: use 'site' or 'post-<id>'.", Truncate(group)));
            return;
        }

        bool exists;
        try
        {
            exists = await _known.ExistsAsync(group);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            JoinFailed(ex, group);
            return;
        }

        if (!exists)
        {
            Send(ControlFrames.Error("unknown_group", $"There is no post '{group["post-".Length..]}'.", group));
            return;
        }

        // A group the URL named uncounted is watched for its events only: not counted in, nor told, its presence.
        counted &= !_uncounted.Contains(group);
        presence &= counted;
        var position = new GroupPosition(group) { LastSeq = resume ?? 0, Announce = announce, Presence = presence };
        lock (_lock)
        {
            if (Find(group) is not null)
            {
                SendLocked(Control(ControlFrames.Error("already_subscribed", $"Already subscribed to '{group}'.", group)));
                return;
            }

            if (_groups.Length >= _options.MaxSubscriptionsPerConnection)
            {
                SendLocked(Control(ControlFrames.Error("too_many_subscriptions", $"At most {_options.MaxSubscriptionsPerConnection} groups per connection.", group)));
                return;
            }

            _groups = [.. _groups, position];
        }

        try
        {
            position.Subscription = await _feed.SubscribeAsync(group, resume, this, cancellationToken);
            _metrics.Subscription(group, 1);
            if (resume is not null)
            {
                _metrics.Resumed();
            }

            if (counted)
            {
                _presence.Joined(group);
                position.Counted = true;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            lock (_lock)
            {
                _groups = [.. _groups.Where(p => p != position)];
            }

            JoinFailed(ex, group);
            return;
        }

        if (presence)
        {
            await WatchPresenceAsync(position);
        }
    }

    /// <summary>
    /// A join the cluster did not answer: the client hears why, then the connection closes with
    /// <see cref="CloseCodes.TryAgainLater"/> (at once, or once attached), so that every client's own reconnect
    /// resumes all its groups; left open, a client that only listens would wait for that group's events forever.
    /// </summary>
    private void JoinFailed(Exception ex, string group)
    {
        LogSubscribeFailed(_logger, ex, group);
        Send(ControlFrames.Error("unavailable", "The group could not be joined right now; the connection closes: reconnect and resume.", group));
        _joinFailed = true;
        if (_running)
        {
            Close(CloseCodes.TryAgainLater, JoinFailedReason);
        }
    }

    /// <summary>Sends the group's count now (this connection in it) and every change after; a cluster that cannot be reached now pushes it later.</summary>
    private async Task WatchPresenceAsync(GroupPosition position)
    {
        try
        {
            OnPresence(position.Group, await _presence.WatchAsync(position.Group, this));
        }
        catch (Exception ex)
        {
            LogSubscribeFailed(_logger, ex, position.Group);
        }
    }

    private void LeavePresence(GroupPosition position)
    {
        if (position.Presence)
        {
            _presence.Unwatch(position.Group, this);
        }

        if (position.Counted)
        {
            _presence.Left(position.Group);
        }
    }

    private async Task UnsubscribeAsync(string group)
    {
        GroupPosition? position;
        lock (_lock)
        {
            position = Find(group);
            if (position is not null)
            {
                _groups = [.. _groups.Where(p => p != position)];
                SendLocked(Control(ControlFrames.Unsubscribed(group)));
            }
        }

        if (position is null)
        {
            Send(ControlFrames.Error("not_subscribed", $"Not subscribed to '{Truncate(group)}'.", Truncate(group)));
            return;
        }

        LeavePresence(position);
        if (position.Subscription is { } subscription)
        {
            await subscription.DisposeAsync();
            _metrics.Subscription(group, -1);
        }
    }

    private GroupPosition? Find(string group)
    {
        foreach (var position in _groups)
        {
            if (string.Equals(position.Group, group, StringComparison.Ordinal))
            {
                return position;
            }
        }

        return null;
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64];

    private sealed class GroupPosition(string group)
    {
        public string Group { get; } = group;

        public long LastSeq { get; set; }

        public bool Announce { get; init; }

        /// <summary>Whether the connection asked for the group's presence count.</summary>
        public bool Presence { get; init; }

        /// <summary>Whether the connection counts in the group's presence (it joined; leaving uncounts it).</summary>
        public bool Counted { get; set; }

        /// <summary>The presence count last sent (-1: none yet).</summary>
        public int LastPresence { get; set; } = -1;

        public IAsyncDisposable? Subscription { get; set; }
    }

    /// <summary>What reading frames came to: nothing yet, a message of some length, or a close code (-1: the client closed).</summary>
}
