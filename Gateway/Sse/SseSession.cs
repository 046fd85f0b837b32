using System.Text;
using BookShelf.Gateway.Diagnostics;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.Options;
using BookShelf.Gateway.WebSockets;

namespace BookShelf.Gateway.Sse;

/// <summary>
/// One Server-Sent Events stream: the fallback for clients whose WebSocket cannot connect. The same groups,
/// frames and guarantees as a <see cref="WebSocketSession"/>, one way only: each event's <c>data:</c> is the JSON
/// of its WebSocket frame, and its <c>id:</c> is the connection's whole position after it
/// (<c>site:41,post-7:3</c>), so the browser's automatic reconnect sends it back as <c>Last-Event-ID</c> and
/// resumes every group without a gap or a repeat. What waits to be written is bounded like a WebSocket's backlog
/// (<see cref="GatewayOptions.SendQueueLimit"/> events): a stream that falls that far behind is ended, and its
/// client reconnects and resumes from the last event it got. Comments (<c>: ping</c>) keep idle streams alive.
/// This file is the stream's life, its groups and the feed's listener; what is written, and how, is in
/// <c>SseSession.Output.cs</c>.
/// </summary>
public sealed partial class SseSession : IFeedListener, Presence.IPresenceListener
{
    private readonly GatewayFeed _feed;
    private readonly KnownGroups _known;
    private readonly GatewayOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly Presence.PresenceTracker _presence;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<Position> _groups = [];
    private readonly Queue<byte[]> _pending = new();
    private readonly CancellationTokenSource _ended = new();
    private TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _queued = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _wantsPresence;
    private readonly TimeProvider _time;
    private readonly IReadOnlySet<string> _uncounted;

    /// <summary>A stream that has not started writing yet: what it is sent waits until <see cref="RunAsync"/>.</summary>
    public SseSession(GatewayFeed feed, KnownGroups known, GatewayOptions options, GatewayMetrics metrics, Presence.PresenceTracker presence, bool wantsPresence, IReadOnlySet<string> uncounted, TimeProvider time, ILogger logger)
    {
        _time = time;
        _uncounted = uncounted;
        _presence = presence;
        _wantsPresence = wantsPresence;
        _feed = feed;
        _known = known;
        _options = options;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Whether the stream fell too far behind and was ended.</summary>
    public bool TooSlow { get; private set; }

    /// <summary>
    /// Joins the groups without a resume seq (before the response starts, so a client that sees it start gets
    /// every later event), and takes the place of the resumed ones, so their live events wait for their replay.
    /// </summary>
    public async Task JoinAsync(IEnumerable<(string Group, long? Resume)> subscriptions, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // The resumed groups' places are known now: every id sent from the first on carries them.
            foreach (var (group, resume) in subscriptions.Where(s => s.Resume is not null))
            {
                _groups.Add(new Position(group) { LastSeq = resume!.Value, Known = true });
            }
        }

        foreach (var (group, resume) in subscriptions.Where(s => s.Resume is null))
        {
            await SubscribeAsync(group, null, cancellationToken);
        }
    }

    /// <summary>
    /// Writes the stream until the client goes, the gateway stops or the stream falls too far behind: first the
    /// replays of the resumed groups, then live events, with a comment whenever it has been quiet for a while.
    /// Leaves every group at the end.
    /// </summary>
    public async Task RunAsync(HttpResponse response, IEnumerable<(string Group, long Resume)> resumes, CancellationToken aborted)
    {
        ArgumentNullException.ThrowIfNull(response);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, _ended.Token);
        // A stream lives at most Gateway:SseMaxAge: a client that vanished without closing (no ping comes back in
        // SSE) stops counting then, and a live browser resumes at once through Last-Event-ID.
        linked.CancelAfter(_options.SseMaxAge);
        var token = linked.Token;
        _metrics.Connection(1);
        var resuming = Task.WhenAll(resumes.Select(r => SubscribeAsync(r.Group, r.Resume, token)));
        try
        {
            await WriteLoopAsync(response, token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            LogClosed(_logger, ex.Message);
        }
        finally
        {
            // A replay still waiting for room stops here; only then are the groups (and their presence) left.
            _ended.Cancel();
            await resuming.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await LeaveAllAsync();
            _metrics.Connection(-1);
        }
    }

    /// <summary>Ends the stream (the gateway is stopping: the client reconnects to another and resumes).</summary>
    public void End() => _ended.Cancel();

    /// <summary>Leaves every group.</summary>
    public async Task LeaveAllAsync()
    {
        Position[] all;
        lock (_lock)
        {
            all = [.. _groups];
            _groups.Clear();
        }

        foreach (var position in all)
        {
            if (position.Counted)
            {
                _presence.Unwatch(position.Group, this);
                _presence.Left(position.Group);
            }

            if (position.Subscription is { } subscription)
            {
                await subscription.DisposeAsync();
                _metrics.Subscription(position.Group, -1);
            }
        }
    }

    /// <inheritdoc />
    public void OnEvent(FeedFrame frame)
    {
        lock (_lock)
        {
            EnqueueAfterLocked(frame);
        }
    }

    /// <inheritdoc />
    public async ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task room;
            lock (_lock)
            {
                // Replays are bulk: leave half the room for live events of other groups.
                if (_pending.Count < Math.Max(1, _options.SendQueueLimit / 2) || TooSlow)
                {
                    EnqueueAfterLocked(frame);
                    return;
                }

                room = _written.Task;
            }

            await room.WaitAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public void OnSubscribed(string group, long lastSeq)
    {
        lock (_lock)
        {
            if (Find(group) is not { } position)
            {
                return;
            }

            position.LastSeq = Math.Max(position.LastSeq, lastSeq);
            position.Known = true;
            EnqueueLocked(Event(ControlFrames.Subscribed(group, position.LastSeq), withId: true));
        }
    }

    /// <inheritdoc />
    public void OnReset(string group, long lastSeq)
    {
        lock (_lock)
        {
            if (Find(group) is not { } position)
            {
                return;
            }

            position.LastSeq = lastSeq;
            position.Known = true;
            EnqueueLocked(Event(ControlFrames.Reset(group, lastSeq), withId: true));
        }

        _metrics.Reset();
    }

    /// <inheritdoc />
    public void OnPresence(string group, int count)
    {
        lock (_lock)
        {
            if (Find(group) is { } position && position.LastPresence != count)
            {
                position.LastPresence = count;
                EnqueueLocked(Event(ControlFrames.Presence(group, count), withId: false));
            }
        }
    }

    private async Task SubscribeAsync(string group, long? resume, CancellationToken cancellationToken)
    {
        bool exists;
        try
        {
            exists = await _known.ExistsAsync(group);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogSubscribeFailed(_logger, ex, group);
            Send(ControlFrames.Error("unavailable", "The group could not be joined right now; the stream ends: reconnect and resume.", group));
            // Left open, a stream would never carry that group's events; ended, the browser reconnects with Last-Event-ID.
            End();
            return;
        }

        Position position;
        lock (_lock)
        {
            if (!exists)
            {
                _groups.RemoveAll(p => p.Group == group);
                EnqueueLocked(Event(ControlFrames.Error("unknown_group", $"There is no post '{group["post-".Length..]}'.", group), withId: false));
                return;
            }

            position = Find(group) ?? new Position(group) { LastSeq = resume ?? 0, Known = resume is not null };
            if (!_groups.Contains(position))
            {
                _groups.Add(position);
            }
        }

        try
        {
            position.Subscription = await _feed.SubscribeAsync(group, resume, this, cancellationToken);
            _metrics.Subscription(group, 1);
            if (resume is not null)
            {
                _metrics.Resumed();
            }

            if (!_uncounted.Contains(group))
            {
                _presence.Joined(group);
                position.Counted = true;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            lock (_lock)
            {
                _groups.Remove(position);
            }

            LogSubscribeFailed(_logger, ex, group);
            Send(ControlFrames.Error("unavailable", "The group could not be joined right now; the stream ends: reconnect and resume.", group));
            // Left open, a stream would never carry that group's events; ended, the browser reconnects with Last-Event-ID.
            End();
            return;
        }

        if (_wantsPresence && position.Counted)
        {
            try
            {
                OnPresence(group, await _presence.WatchAsync(group, this));
            }
            catch (Exception ex)
            {
                LogSubscribeFailed(_logger, ex, group);
            }
        }
    }

    private string PositionLocked() => string.Join(',', _groups.Where(p => p.Known).Select(p => $"{p.Group}:{p.LastSeq}"));

    private Position? Find(string group)
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

    private sealed class Position(string group)
    {
        public string Group { get; } = group;

        public long LastSeq { get; set; }

        public bool Known { get; set; }

        public bool Counted { get; set; }

        public int LastPresence { get; set; } = -1;

        public IAsyncDisposable? Subscription { get; set; }
    }

    [LoggerMessage(4301, LogLevel.Debug, "SSE stream closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string reason);

    [LoggerMessage(4302, LogLevel.Warning, "Could not subscribe an SSE stream to {Group}")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception, string group);

}
