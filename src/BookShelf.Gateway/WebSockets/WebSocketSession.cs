using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using BookShelf.Gateway.Diagnostics;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.Options;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// One WebSocket connection: its group subscriptions, its position (last seq) per group, and a bounded send
/// queue of pre-encoded frames. Events are written as the same bytes every connection gets; a connection that
/// lets its queue fill is closed with <see cref="CloseCodes.TooSlow"/> so it reconnects and resumes, and it
/// never holds up anyone else. Idle connections wait with zero-byte reads, holding no receive buffer.
/// </summary>
public sealed partial class WebSocketSession : IFeedListener
{
    private readonly GatewayFeed _feed;
    private readonly GatewayOptions _options;
    private readonly ILogger _logger;
    private readonly GatewayMetrics _metrics;
    private readonly Channel<ReadOnlyMemory<byte>> _outbox;
    private readonly Dictionary<string, GroupPosition> _groups = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _closing = new();
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebSocket _socket = null!;
    private int _queued;
    private int _tooSlow;

    /// <summary>A session whose socket is accepted later (see <see cref="JoinAsync"/> and <see cref="RunAsync"/>).</summary>
    public WebSocketSession(GatewayFeed feed, GatewayOptions options, GatewayMetrics metrics, ILogger logger)
    {
        _metrics = metrics;
        _feed = feed;
        _options = options;
        _logger = logger;
        // Bounded by the _queued count rather than by the channel, so a replay can wait for room (at half the
        // limit) while live frames still fit.
        _outbox = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true });
    }

    /// <summary>Frames waiting to be sent (never more than the configured limit).</summary>
    public int QueuedFrames => Volatile.Read(ref _queued);

    /// <summary>
    /// Joins groups before the WebSocket is accepted, so that once a client sees the upgrade succeed it gets every
    /// later event. With <paramref name="announce"/> false no <c>subscribed</c> frame is sent: the original
    /// BookShelf client, on a bare URL, gets nothing but post frames. Events queue until <see cref="RunAsync"/>.
    /// </summary>
    public async Task JoinAsync(IEnumerable<string> groups, bool announce, CancellationToken cancellationToken)
    {
        foreach (var group in groups)
        {
            await SubscribeAsync(group, resume: null, announce, cancellationToken);
        }
    }

    /// <summary>
    /// Runs the accepted connection until it closes: resumes the groups given with a seq (replays need the socket,
    /// as they wait for room in the queue), then serves client messages. Leaves every group at the end.
    /// </summary>
    public async Task RunAsync(WebSocket socket, IReadOnlyList<(string Group, long Resume)> resumes, CancellationToken stopping)
    {
        _socket = socket;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _closing.Token);
        var sender = SendLoopAsync(linked.Token);
        _metrics.Connection(1);
        try
        {
            foreach (var (group, resume) in resumes)
            {
                await SubscribeAsync(group, resume, announce: true, linked.Token);
            }

            await ReceiveLoopAsync(linked.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            LogClosed(_logger, ex.Message);
        }
        finally
        {
            await LeaveAllAsync();
            _metrics.Connection(-1);
            _outbox.Writer.TryComplete();
            await _closing.CancelAsync();
            await sender;
            await CloseAsync(stopping.IsCancellationRequested ? (WebSocketCloseStatus)CloseCodes.Restarting : WebSocketCloseStatus.NormalClosure, stopping.IsCancellationRequested ? "gateway restarting: resume" : "bye");
        }
    }

    /// <inheritdoc />
    public void OnEvent(FeedFrame frame)
    {
        var e = frame.Event;
        lock (_lock)
        {
            if (!_groups.TryGetValue(e.Group, out var position) || e.Seq <= position.LastSeq)
            {
                return;
            }

            position.LastSeq = e.Seq;
        }

        Enqueue(frame.Utf8);
    }

    /// <inheritdoc />
    public async ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken)
    {
        var e = frame.Event;
        lock (_lock)
        {
            if (!_groups.TryGetValue(e.Group, out var position) || e.Seq <= position.LastSeq)
            {
                return;
            }

            position.LastSeq = e.Seq;
        }

        // Replays are bulk: leave half the queue for live frames of other groups.
        while (Volatile.Read(ref _queued) >= Math.Max(1, _options.SendQueueLimit / 2) && Volatile.Read(ref _tooSlow) == 0)
        {
            await Volatile.Read(ref _drained).Task.WaitAsync(cancellationToken);
        }

        Enqueue(frame.Utf8);
    }

    /// <inheritdoc />
    public void OnSubscribed(string group, long lastSeq)
    {
        lock (_lock)
        {
            if (!_groups.TryGetValue(group, out var position))
            {
                return;
            }

            position.LastSeq = Math.Max(position.LastSeq, lastSeq);
            lastSeq = position.LastSeq;
            if (!position.Announce)
            {
                return;
            }
        }

        Enqueue(ControlFrames.Subscribed(group, lastSeq));
    }

    /// <inheritdoc />
    public void OnReset(string group, long lastSeq)
    {
        lock (_lock)
        {
            if (_groups.TryGetValue(group, out var position))
            {
                position.LastSeq = lastSeq;
            }
        }

        _metrics.Reset();
        Enqueue(ControlFrames.Reset(group, lastSeq));
    }

    private void Enqueue(ReadOnlyMemory<byte> frame)
    {
        if (Volatile.Read(ref _tooSlow) == 1 || _closing.IsCancellationRequested)
        {
            return;
        }

        if (Interlocked.Increment(ref _queued) <= _options.SendQueueLimit)
        {
            if (!_outbox.Writer.TryWrite(frame))
            {
                Interlocked.Decrement(ref _queued);
            }

            return;
        }

        Interlocked.Decrement(ref _queued);

        // The queue is full: stop queueing, tell the client to resume, and let it go.
        if (Interlocked.Exchange(ref _tooSlow, 1) == 0)
        {
            LogTooSlow(_logger, _options.SendQueueLimit);
            _metrics.SlowConsumer();
            _outbox.Writer.TryComplete();
            _drained.TrySetResult();
        }
    }

    private async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reader = _outbox.Reader;
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out var frame))
                {
                    if (Volatile.Read(ref _tooSlow) == 1)
                    {
                        break;
                    }

                    await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
                    if (Interlocked.Decrement(ref _queued) < Math.Max(1, _options.SendQueueLimit / 2))
                    {
                        Interlocked.Exchange(ref _drained, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                    }
                }

                if (Volatile.Read(ref _tooSlow) == 1)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            LogClosed(_logger, ex.Message);
        }

        if (Volatile.Read(ref _tooSlow) == 1)
        {
            await CloseAsync((WebSocketCloseStatus)CloseCodes.TooSlow, "too slow: reconnect and resume");
            await _closing.CancelAsync();
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var limit = _options.MaxMessageBytes;
        while (_socket.State == WebSocketState.Open)
        {
            // Idle connections hold no buffer: wait for data with a zero-byte read, then rent one.
            var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, cancellationToken);
            if (peek.MessageType == WebSocketMessageType.Close)
            {
                return;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
            try
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length, limit + 1 - length), cancellationToken);
                    length += result.Count;
                    if (length > limit)
                    {
                        await RefuseAsync(CloseCodes.MessageTooBig, $"messages are limited to {limit} bytes");
                        return;
                    }
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                switch (result.MessageType)
                {
                    case WebSocketMessageType.Close:
                        return;
                    case WebSocketMessageType.Binary:
                        await RefuseAsync(CloseCodes.BinaryMessage, "binary messages are not supported");
                        return;
                }

                await HandleAsync(buffer.AsSpan(0, length).ToArray(), cancellationToken);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task HandleAsync(byte[] message, CancellationToken cancellationToken)
    {
        var parsed = ClientMessage.Parse(message, out var code, out var error);
        if (parsed is null)
        {
            LogBadMessage(_logger, code!);
            Enqueue(ControlFrames.Error(code!, error!));
            return;
        }

        switch (parsed.Type)
        {
            case "ping":
                Enqueue(ControlFrames.Pong);
                break;
            case "subscribe":
                await SubscribeAsync(parsed.Group!, parsed.Resume, announce: true, cancellationToken);
                break;
            case "unsubscribe":
                await UnsubscribeAsync(parsed.Group!);
                break;
        }
    }

    private async Task SubscribeAsync(string group, long? resume, bool announce, CancellationToken cancellationToken)
    {
        if (!Groups.IsValid(group))
        {
            Enqueue(ControlFrames.Error("unknown_group", $"'{Truncate(group)}' is not a group: use 'site' or 'post-<id>'.", Truncate(group)));
            return;
        }

        GroupPosition position;
        lock (_lock)
        {
            if (_groups.ContainsKey(group))
            {
                Enqueue(ControlFrames.Error("already_subscribed", $"Already subscribed to '{group}'.", group));
                return;
            }

            if (_groups.Count >= _options.MaxSubscriptionsPerConnection)
            {
                Enqueue(ControlFrames.Error("too_many_subscriptions", $"At most {_options.MaxSubscriptionsPerConnection} groups per connection.", group));
                return;
            }

            position = new GroupPosition { LastSeq = resume ?? 0, Announce = announce };
            _groups[group] = position;
        }

        try
        {
            position.Subscription = await _feed.SubscribeAsync(group, resume, this, cancellationToken);
            _metrics.Subscription(group, 1);
            if (resume is not null)
            {
                _metrics.Resumed();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            lock (_lock)
            {
                _groups.Remove(group);
            }

            LogSubscribeFailed(_logger, ex, group);
            Enqueue(ControlFrames.Error("unavailable", "The group could not be joined right now; try again.", group));
        }
    }

    private async Task UnsubscribeAsync(string group)
    {
        GroupPosition? position;
        lock (_lock)
        {
            if (_groups.Remove(group, out position))
            {
                Enqueue(ControlFrames.Unsubscribed(group));
            }
        }

        if (position is null)
        {
            Enqueue(ControlFrames.Error("not_subscribed", $"Not subscribed to '{Truncate(group)}'.", Truncate(group)));
            return;
        }

        if (position.Subscription is { } subscription)
        {
            await subscription.DisposeAsync();
            _metrics.Subscription(group, -1);
        }
    }

    /// <summary>Leaves every group (when the connection ends, or when it was never accepted).</summary>
    public async Task LeaveAllAsync()
    {
        List<(string Group, GroupPosition Position)> all;
        lock (_lock)
        {
            all = [.. _groups.Select(g => (g.Key, g.Value))];
            _groups.Clear();
        }

        foreach (var (group, position) in all)
        {
            if (position.Subscription is { } subscription)
            {
                await subscription.DisposeAsync();
                _metrics.Subscription(group, -1);
            }
        }
    }

    private async Task RefuseAsync(int code, string reason)
    {
        LogRefused(_logger, code, reason);
        await CloseAsync((WebSocketCloseStatus)code, reason);
    }

    private async Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _socket.CloseOutputAsync(status, reason, timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            _socket.Abort();
        }
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64];

    private sealed class GroupPosition
    {
        public long LastSeq { get; set; }

        public bool Announce { get; init; }

        public IAsyncDisposable? Subscription { get; set; }
    }

    [LoggerMessage(4001, LogLevel.Debug, "WebSocket closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string reason);

    [LoggerMessage(4002, LogLevel.Debug, "WebSocket client too slow: {Limit} frames queued; closing with a resume hint")]
    private static partial void LogTooSlow(ILogger logger, int limit);

    [LoggerMessage(4003, LogLevel.Debug, "WebSocket message refused: {Code}")]
    private static partial void LogBadMessage(ILogger logger, string code);

    [LoggerMessage(4004, LogLevel.Debug, "WebSocket closed with {Code}: {Reason}")]
    private static partial void LogRefused(ILogger logger, int code, string reason);

    [LoggerMessage(4005, LogLevel.Warning, "Could not subscribe a connection to {Group}")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception, string group);
}
