using System.Buffers;
using System.IO.Pipelines;
using BookShelf.Gateway.Diagnostics;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.Options;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// One WebSocket connection, speaking RFC 6455 itself: its group subscriptions, its position (last seq) per
/// group, and its sends. Events go out as the frame bytes every connection gets (all the events it has not seen,
/// in one write), through its <see cref="FrameOutput"/> (on plain TCP: one <c>send()</c> on the socket), from the
/// thread that fans the events out: no task, queue or buffer per connection while it keeps up. When the socket
/// has no room, frames wait in a bounded backlog and leave together once there is; a connection whose backlog
/// fills is closed with <see cref="CloseCodes.TooSlow"/> so it reconnects and resumes, and it never holds up
/// anyone else. Idle connections hold no buffer (the transport reads with zero-byte reads).
/// </summary>
public sealed partial class WebSocketSession : IFeedListener
{
    private readonly GatewayFeed _feed;
    private readonly GatewayOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly HeartbeatMonitor _heartbeat;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private PipeReader? _input;
    private FrameOutput? _output;
    private Action _abort = () => { };
    private GroupPosition[] _groups = [];
    private Queue<ReadOnlyMemory<byte>>? _backlog;
    private int _backlogFrames;
    private TaskCompletionSource? _drained;
    private bool _busy = true; // a send is pending, or (until Attach) there is nowhere to send yet
    private bool _outputClosed;
    private volatile bool _ending;
    private long _lastReceived = Environment.TickCount64;
    private long _pingSent;
    private byte[]? _fragments;
    private int _fragmentLength;

    /// <summary>
    /// A session not yet attached to its connection: frames wait in the backlog until <see cref="Attach"/>, so it
    /// can join groups before the upgrade is answered.
    /// </summary>
    public WebSocketSession(GatewayFeed feed, GatewayOptions options, GatewayMetrics metrics, HeartbeatMonitor heartbeat, ILogger logger)
    {
        _feed = feed;
        _options = options;
        _metrics = metrics;
        _heartbeat = heartbeat;
        _logger = logger;
    }

    /// <summary>Frames waiting for room in the socket (never more than <see cref="GatewayOptions.SendQueueLimit"/>).</summary>
    public int QueuedFrames
    {
        get
        {
            lock (_lock)
            {
                return _backlogFrames;
            }
        }
    }

    /// <summary>
    /// Joins groups before the upgrade is answered, so that once a client sees it succeed it gets every later
    /// event. With <paramref name="announce"/> false no <c>subscribed</c> frame is sent: the original BookShelf
    /// client, on a bare URL, gets nothing but post frames. Events wait in the backlog until <see cref="Attach"/>.
    /// </summary>
    public async Task JoinAsync(IEnumerable<string> groups, bool announce, CancellationToken cancellationToken)
    {
        foreach (var group in groups)
        {
            await SubscribeAsync(group, resume: null, announce, cancellationToken);
        }
    }

    /// <summary>
    /// Attaches the upgraded connection (the upgrade answer already sent) and sends what waited;
    /// <paramref name="abort"/> drops the connection.
    /// </summary>
    public void Attach(PipeReader input, FrameOutput output, Action abort)
    {
        lock (_lock)
        {
            _input = input;
            _output = output;
            _abort = abort;
            _busy = false;
            SendBacklogLocked();
        }
    }

    /// <summary>
    /// Serves the connection until it ends: resumes the groups given with a seq (a replay may wait for room), then
    /// reads client frames. Leaves every group at the end and makes sure a close frame went out (or gives up after
    /// two seconds and drops the connection).
    /// </summary>
    public async Task RunAsync(IReadOnlyList<(string Group, long Resume)> resumes)
    {
        // One method for the connection's whole life: it is the one object a waiting connection keeps suspended.
        var input = _input ?? throw new InvalidOperationException("The session is not attached to a connection.");
        _heartbeat.Add(this);
        _metrics.Connection(1);
        var (code, reason) = (1000, "bye");
        try
        {
            foreach (var (group, resume) in resumes)
            {
                await SubscribeAsync(group, resume, announce: true, CancellationToken.None);
            }

            while (true)
            {
                var result = await input.ReadAsync();
                if (result.IsCanceled && _ending)
                {
                    (code, reason) = (CloseCodes.Restarting, "gateway restarting: resume");
                    break;
                }

                var buffer = result.Buffer;
                var outcome = ReadFrames(ref buffer, out var message);
                if (message is not null)
                {
                    // Frames may follow the message in what was read: only a partial frame counts as examined.
                    input.AdvanceTo(buffer.Start);
                    try
                    {
                        await HandleAsync(message.AsMemory(0, outcome.MessageLength));
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(message);
                    }

                    continue;
                }

                input.AdvanceTo(buffer.Start, result.Buffer.End);
                if (outcome.CloseCode != 0)
                {
                    if (outcome.CloseCode != -1)
                    {
                        LogRefused(_logger, outcome.CloseCode, outcome.Reason);
                        (code, reason) = (outcome.CloseCode, outcome.Reason);
                    }

                    break;
                }

                if (result.IsCompleted || (_ending && result.IsCanceled))
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            LogClosed(_logger, ex.Message);
        }
        finally
        {
            _heartbeat.Remove(this);
            await LeaveAllAsync();
            _metrics.Connection(-1);
            await CloseAsync(code, reason);
        }
    }

    /// <summary>Closes with <see cref="CloseCodes.Restarting"/>: the gateway is shutting down.</summary>
    public void Stop()
    {
        _ = CloseAsync(CloseCodes.Restarting, "gateway restarting: resume");
        EndReceiving();
    }

    /// <summary>Called by the heartbeat: pings when due; drops the connection when a ping went unanswered too long.</summary>
    public void Heartbeat(long now)
    {
        bool dead;
        lock (_lock)
        {
            var pinged = _pingSent;
            dead = pinged != 0 && _lastReceived < pinged && now - pinged >= (long)_options.PingTimeout.TotalMilliseconds;
            if (!dead && (pinged == 0 || _lastReceived >= pinged) && now - Math.Max(_lastReceived, pinged) >= (long)_options.PingInterval.TotalMilliseconds)
            {
                _pingSent = now;
                SendLocked(WebSocketFrames.EmptyPing);
            }
        }

        if (dead)
        {
            LogPingTimeout(_logger);
            _abort();
        }
    }

    /// <inheritdoc />
    public void OnEvent(FeedFrame frame)
    {
        lock (_lock)
        {
            var position = Find(frame.Group);
            if (position is null)
            {
                return;
            }

            // Only the events this connection has not had, as one write.
            var wire = frame.WireAfter(position.LastSeq, out var count);
            if (count == 0)
            {
                return;
            }

            position.LastSeq = frame.LastSeq;
            SendLocked(wire, count);
        }
    }

    /// <inheritdoc />
    public async ValueTask OnReplayAsync(FeedFrame frame, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? room;
            lock (_lock)
            {
                var position = Find(frame.Group);
                if (position is null || frame.LastSeq <= position.LastSeq || _outputClosed)
                {
                    return;
                }

                // Replays are bulk: leave half the backlog for live frames of other groups.
                if (!_busy || _backlogFrames < Math.Max(1, _options.SendQueueLimit / 2))
                {
                    var wire = frame.WireAfter(position.LastSeq, out var count);
                    position.LastSeq = frame.LastSeq;
                    SendLocked(wire, count);
                    return;
                }

                room = (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await room.WaitAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public void OnSubscribed(string group, long lastSeq)
    {
        lock (_lock)
        {
            var position = Find(group);
            if (position is null)
            {
                return;
            }

            position.LastSeq = Math.Max(position.LastSeq, lastSeq);
            if (position.Announce)
            {
                SendLocked(Control(ControlFrames.Subscribed(group, position.LastSeq)));
            }
        }
    }

    /// <inheritdoc />
    public void OnReset(string group, long lastSeq)
    {
        lock (_lock)
        {
            var position = Find(group);
            if (position is null)
            {
                return;
            }

            position.LastSeq = lastSeq;
            SendLocked(Control(ControlFrames.Reset(group, lastSeq)));
        }

        _metrics.Reset();
    }

    /// <summary>Leaves every group (when the connection ends, or when it was never upgraded).</summary>
    public async Task LeaveAllAsync()
    {
        GroupPosition[] all;
        lock (_lock)
        {
            all = _groups;
            _groups = [];
        }

        foreach (var position in all)
        {
            if (position.Subscription is { } subscription)
            {
                await subscription.DisposeAsync();
                _metrics.Subscription(position.Group, -1);
            }
        }
    }

    private static byte[] Control(byte[] json) => WebSocketFrames.Frame(WebSocketFrames.Text, json);

    /// <summary>
    /// Sends <paramref name="frames"/> frames (one buffer) now, or puts them in the backlog while a send is pending;
    /// the backlog holds at most <see cref="GatewayOptions.SendQueueLimit"/> frames. Holds the lock.
    /// </summary>
    private void SendLocked(ReadOnlyMemory<byte> bytes, int frames = 1)
    {
        if (_outputClosed)
        {
            return;
        }

        if (_busy)
        {
            if (_backlogFrames + frames > _options.SendQueueLimit)
            {
                TooSlowLocked();
                return;
            }

            (_backlog ??= new Queue<ReadOnlyMemory<byte>>()).Enqueue(bytes);
            _backlogFrames += frames;
            return;
        }

        StartSendLocked(bytes);
    }

    /// <summary>Starts a send; if it cannot finish now, the session is busy until it does. Holds the lock.</summary>
    private void StartSendLocked(ReadOnlyMemory<byte> bytes)
    {
        var send = _output!.SendAsync(bytes);
        if (send.IsCompletedSuccessfully)
        {
            if (!send.Result)
            {
                OutputFailedLocked();
            }

            return;
        }

        _busy = true;
        _ = FinishSendAsync(send);
    }

    /// <summary>Waits for a pending send, then sends the backlog as one batch, until nothing waits.</summary>
    private async Task FinishSendAsync(ValueTask<bool> send)
    {
        while (true)
        {
            bool sent;
            try
            {
                sent = await send;
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
            {
                sent = false;
            }

            lock (_lock)
            {
                if (!sent)
                {
                    OutputFailedLocked();
                    return;
                }

                if (!TakeBacklogLocked(out var batch))
                {
                    _busy = false;
                    SignalDrainedLocked();
                    return;
                }

                send = _output!.SendAsync(batch);
            }
        }
    }

    private void SendBacklogLocked()
    {
        if (TakeBacklogLocked(out var batch))
        {
            _busy = true;
            _ = FinishSendAsync(_output!.SendAsync(batch));
        }
    }

    /// <summary>The backlog as one buffer (so it leaves with one send), emptying it. Holds the lock.</summary>
    private bool TakeBacklogLocked(out ReadOnlyMemory<byte> batch)
    {
        batch = default;
        var backlog = _backlog;
        _backlog = null;
        _backlogFrames = 0;
        if (backlog is not { Count: > 0 })
        {
            return false;
        }

        if (backlog.Count == 1)
        {
            batch = backlog.Dequeue();
            return true;
        }

        var bytes = new byte[backlog.Sum(f => f.Length)];
        var at = 0;
        foreach (var frame in backlog)
        {
            frame.Span.CopyTo(bytes.AsSpan(at));
            at += frame.Length;
        }

        batch = bytes;
        return true;
    }

    private void SignalDrainedLocked()
    {
        var drained = _drained;
        _drained = null;
        drained?.TrySetResult();
    }

    private void OutputFailedLocked()
    {
        _outputClosed = true;
        _busy = false;
        _backlog = null;
        _backlogFrames = 0;
        SignalDrainedLocked();
        EndReceiving();
    }

    private void TooSlowLocked()
    {
        LogTooSlow(_logger, _options.SendQueueLimit);
        _metrics.SlowConsumer();
        // What waits is dropped; the close frame goes after what the socket already holds. If even that cannot
        // leave, the connection is dropped when closing gives up.
        _backlog = null;
        _backlogFrames = 0;
        WriteCloseLocked(CloseCodes.TooSlow, "too slow: reconnect and resume");
        EndReceiving();
    }

    /// <summary>Sends (or queues, last) the close frame; nothing is sent after it. Holds the lock.</summary>
    private void WriteCloseLocked(int code, string reason)
    {
        if (_outputClosed)
        {
            return;
        }

        _outputClosed = true;
        var close = WebSocketFrames.CloseFrame(code, reason);
        if (_busy)
        {
            (_backlog ??= new Queue<ReadOnlyMemory<byte>>()).Enqueue(close);
            return;
        }

        StartSendLocked(close);
    }

    /// <summary>Sends a close frame (once) and waits up to two seconds for it to leave; then drops the connection.</summary>
    private async Task CloseAsync(int code, string reason)
    {
        Task drained;
        lock (_lock)
        {
            WriteCloseLocked(code, reason);
            if (!_busy)
            {
                return;
            }

            drained = (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(2))) != drained)
        {
            _abort();
        }
    }

    private void EndReceiving()
    {
        _ending = true;
        _input?.CancelPendingRead();
    }

    /// <summary>
    /// Reads whole frames from <paramref name="buffer"/> (moving its start past them) until a complete text message
    /// (returned in a pooled array), a reason to close, or the end of the data.
    /// </summary>
    private ReadOutcome ReadFrames(ref ReadOnlySequence<byte> buffer, out byte[]? message)
    {
        message = null;
        var limit = _options.MaxMessageBytes;
        while (true)
        {
            var reader = new SequenceReader<byte>(buffer);
            var read = WebSocketFrames.TryReadHeader(ref reader, out var header);
            if (read == HeaderRead.NeedMore)
            {
                return default;
            }

            if (read == HeaderRead.Invalid || header.Reserved != 0 || !header.Masked || header.Opcode is not (WebSocketFrames.Continuation or WebSocketFrames.Text or WebSocketFrames.Binary or WebSocketFrames.Close or WebSocketFrames.Ping or WebSocketFrames.Pong)
                || (header.IsControl && (!header.Fin || header.Length > 125))
                || (header.Opcode == WebSocketFrames.Continuation && _fragments is null)
                || (header.Opcode is WebSocketFrames.Text or WebSocketFrames.Binary && _fragments is not null))
            {
                return ReadOutcome.Close(CloseCodes.ProtocolError, "protocol error");
            }

            if (header.Opcode == WebSocketFrames.Binary)
            {
                return ReadOutcome.Close(CloseCodes.BinaryMessage, "binary messages are not supported");
            }

            if (!header.IsControl && _fragmentLength + header.Length > limit)
            {
                return ReadOutcome.Close(CloseCodes.MessageTooBig, $"messages are limited to {limit} bytes");
            }

            if (reader.Remaining < header.Length)
            {
                return default;
            }

            var length = (int)header.Length;
            var payload = reader.Sequence.Slice(reader.Position, length);
            buffer = buffer.Slice(payload.End);
            lock (_lock)
            {
                _lastReceived = Environment.TickCount64;
            }

            switch (header.Opcode)
            {
                case WebSocketFrames.Ping:
                {
                    // Control payloads are at most 125 bytes (checked above): a fixed buffer, never one the peer sizes.
                    Span<byte> data = stackalloc byte[125];
                    data = data[..length];
                    payload.CopyTo(data);
                    WebSocketFrames.Unmask(data, header.Mask, 0);
                    lock (_lock)
                    {
                        SendLocked(WebSocketFrames.Frame(WebSocketFrames.Pong, data));
                    }

                    continue;
                }

                case WebSocketFrames.Pong:
                    continue;
                case WebSocketFrames.Close:
                {
                    Span<byte> data = stackalloc byte[125];
                    data = data[..length];
                    payload.CopyTo(data);
                    WebSocketFrames.Unmask(data, header.Mask, 0);

                    // The client closes: answer with a normal close, or 1002 when its close frame is malformed.
                    return WebSocketFrames.IsValidClosePayload(data) ? ReadOutcome.Close(-1, "") : ReadOutcome.Close(CloseCodes.ProtocolError, "invalid close frame");
                }
            }

            // Text, or its continuation: gather the message.
            _fragments ??= ArrayPool<byte>.Shared.Rent(Math.Max(limit, 1));
            var target = _fragments.AsSpan(_fragmentLength, length);
            payload.CopyTo(target);
            WebSocketFrames.Unmask(target, header.Mask, 0);
            _fragmentLength += length;
            if (!header.Fin)
            {
                continue;
            }

            var whole = _fragments;
            var wholeLength = _fragmentLength;
            _fragments = null;
            _fragmentLength = 0;
            if (!System.Text.Unicode.Utf8.IsValid(whole.AsSpan(0, wholeLength)))
            {
                ArrayPool<byte>.Shared.Return(whole);
                return ReadOutcome.Close(CloseCodes.InvalidUtf8, "text must be UTF-8");
            }

            message = whole;
            return new ReadOutcome(0, "", wholeLength);
        }
    }

    private async Task HandleAsync(ReadOnlyMemory<byte> message)
    {
        var parsed = ClientMessage.Parse(message.Span, out var code, out var error);
        if (parsed is null)
        {
            LogBadMessage(_logger, code!);
            Send(ControlFrames.Error(code!, error!));
            return;
        }

        switch (parsed.Type)
        {
            case "ping":
                Send(ControlFrames.Pong);
                break;
            case "subscribe":
                await SubscribeAsync(parsed.Group!, parsed.Resume, announce: true, CancellationToken.None);
                break;
            case "unsubscribe":
                await UnsubscribeAsync(parsed.Group!);
                break;
        }
    }

    private void Send(byte[] json)
    {
        lock (_lock)
        {
            SendLocked(Control(json));
        }
    }

    private async Task SubscribeAsync(string group, long? resume, bool announce, CancellationToken cancellationToken)
    {
        if (!Groups.IsValid(group))
        {
            Send(ControlFrames.Error("unknown_group", $"'{Truncate(group)}' is not a group: use 'site' or 'post-<id>'.", Truncate(group)));
            return;
        }

        var position = new GroupPosition(group) { LastSeq = resume ?? 0, Announce = announce };
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
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            lock (_lock)
            {
                _groups = [.. _groups.Where(p => p != position)];
            }

            LogSubscribeFailed(_logger, ex, group);
            Send(ControlFrames.Error("unavailable", "The group could not be joined right now; try again.", group));
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

        public IAsyncDisposable? Subscription { get; set; }
    }

    /// <summary>What reading frames came to: nothing yet, a message of some length, or a close code (-1: the client closed).</summary>
    private readonly record struct ReadOutcome(int CloseCode, string Reason, int MessageLength)
    {
        public static ReadOutcome Close(int code, string reason) => new(code, reason, 0);
    }

    [LoggerMessage(4001, LogLevel.Debug, "WebSocket closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string reason);

    [LoggerMessage(4002, LogLevel.Debug, "WebSocket client too slow: {Limit} frames waiting; closing with a resume hint")]
    private static partial void LogTooSlow(ILogger logger, int limit);

    [LoggerMessage(4003, LogLevel.Debug, "WebSocket message refused: {Code}")]
    private static partial void LogBadMessage(ILogger logger, string code);

    [LoggerMessage(4004, LogLevel.Debug, "WebSocket closed with {Code}: {Reason}")]
    private static partial void LogRefused(ILogger logger, int code, string reason);

    [LoggerMessage(4005, LogLevel.Warning, "Could not subscribe a connection to {Group}")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception, string group);

    [LoggerMessage(4006, LogLevel.Debug, "WebSocket dropped: a ping went unanswered")]
    private static partial void LogPingTimeout(ILogger logger);
}
