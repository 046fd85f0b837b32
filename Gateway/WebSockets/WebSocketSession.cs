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
/// anyone else. Idle connections hold no buffer (the transport reads with zero-byte reads). The frames are read by
/// <see cref="FrameDecoder"/> (the codec), written by <see cref="SessionOutput"/> (the backlog state machine); its
/// groups are in <c>WebSocketSession.Groups.cs</c>; this file is the connection's life and the feed's listener.
/// </summary>
public sealed partial class WebSocketSession : IFeedListener, Presence.IPresenceListener
{
    private readonly GatewayFeed _feed;
    private readonly KnownGroups _known;
    private readonly Queue<long> _changes = new();
    private readonly GatewayOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly HeartbeatMonitor _heartbeat;
    private readonly Presence.PresenceTracker _presence;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private PipeReader? _input;
    private GroupPosition[] _groups = [];
    private volatile bool _ending;
    private volatile bool _joinFailed;
    private volatile bool _running;
    private const string JoinFailedReason = "a group could not be joined: reconnect and resume";
    private long _lastReceived = Environment.TickCount64;
    private long _pingSent;
    private readonly FrameDecoder _decoder;
    private readonly SessionOutput _out;
    private IDisposable? _lease;

    /// <summary>
    /// A session not yet attached to its connection: frames wait in the backlog until <see cref="Attach"/>, so it
    /// can join groups before the upgrade is answered.
    /// </summary>
    public WebSocketSession(GatewayFeed feed, KnownGroups known, GatewayOptions options, GatewayMetrics metrics, HeartbeatMonitor heartbeat, Presence.PresenceTracker presence, ILogger logger)
    {
        _presence = presence;
        _feed = feed;
        _known = known;
        _options = options;
        _metrics = metrics;
        _heartbeat = heartbeat;
        _logger = logger;
        _decoder = new FrameDecoder(options.MaxMessageBytes);
        _out = new SessionOutput(_lock, options.SendQueueLimit, EndReceiving, metrics, logger);
    }

    /// <summary>Frames waiting for room in the socket (never more than <see cref="GatewayOptions.SendQueueLimit"/>).</summary>
    public int QueuedFrames
    {
        get
        {
            lock (_lock)
            {
                return _out.QueuedFramesLocked;
            }
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
            _out.AttachLocked(output, abort);
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
                await SubscribeAsync(group, resume, announce: true, _urlPresence, CancellationToken.None);
            }

            _running = true;
            if (_joinFailed)
            {
                (code, reason) = (CloseCodes.TryAgainLater, JoinFailedReason);
                return;
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
                var decoded = DecodeControlFrames(ref buffer);
                if (decoded.Kind == DecodedKind.Message)
                {
                    // Frames may follow the message in what was read: only a partial frame counts as examined.
                    input.AdvanceTo(buffer.Start);
                    try
                    {
                        await HandleAsync(decoded.Message.AsMemory(0, decoded.Length));
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(decoded.Message!);
                    }

                    continue;
                }

                input.AdvanceTo(buffer.Start, result.Buffer.End);
                if (decoded.Kind == DecodedKind.Close)
                {
                    if (decoded.CloseCode != -1)
                    {
                        LogRefused(_logger, decoded.CloseCode, decoded.Reason);
                        (code, reason) = (decoded.CloseCode, decoded.Reason);
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
            _decoder.Dispose();
            await LeaveAllAsync();
            _metrics.Connection(-1);
            await _out.CloseAsync(code, reason);
        }
    }

    /// <summary>Closes with <see cref="CloseCodes.Restarting"/>: the gateway is shutting down.</summary>
    public void Stop() => Close(CloseCodes.Restarting, "gateway restarting: resume");

    /// <summary>Closes with <paramref name="code"/> and <paramref name="reason"/>, and stops reading.</summary>
    public void Close(int code, string reason)
    {
        _ = _out.CloseAsync(code, reason);
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
            _out.Abort();
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
                if (position is null || frame.LastSeq <= position.LastSeq || _out.IsClosedLocked)
                {
                    return;
                }

                // Replays are bulk: leave half the backlog for live frames of other groups.
                room = _out.RoomLocked(Math.Max(1, _options.SendQueueLimit / 2));
                if (room is null)
                {
                    var wire = frame.WireAfter(position.LastSeq, out var count);
                    position.LastSeq = frame.LastSeq;
                    SendLocked(wire, count);
                    return;
                }
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

    private static byte[] Control(byte[] json) => WebSocketFrames.Frame(WebSocketFrames.Text, json);

    /// <summary>Sends frames now or queues them (see <see cref="SessionOutput"/>). Holds the lock.</summary>
    private void SendLocked(ReadOnlyMemory<byte> bytes, int frames = 1) => _out.SendLocked(bytes, frames);

    private void EndReceiving()
    {
        _ending = true;
        _input?.CancelPendingRead();
    }

    /// <summary>
    /// Decodes what was read, answering pings and noting that the client is alive, until a message, a close or
    /// the need for more bytes.
    /// </summary>
    private Decoded DecodeControlFrames(ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            var before = buffer.Length;
            var decoded = _decoder.Decode(ref buffer);
            if (buffer.Length != before)
            {
                lock (_lock)
                {
                    _lastReceived = Environment.TickCount64;
                }
            }

            switch (decoded.Kind)
            {
                case DecodedKind.Ping:
                    lock (_lock)
                    {
                        SendLocked(WebSocketFrames.Frame(WebSocketFrames.Pong, decoded.Payload.Span));
                    }

                    continue;
                case DecodedKind.Pong:
                    continue;
                default:
                    return decoded;
            }
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
            case "subscribe" or "unsubscribe" when !TakeChange():
                Send(ControlFrames.Error("rate_limited", $"At most {_options.SubscriptionChangesPerMinute} subscribes and unsubscribes a minute.", parsed.Group));
                break;
            case "subscribe":
                await SubscribeAsync(parsed.Group!, parsed.Resume, announce: true, parsed.Presence, CancellationToken.None, parsed.Counted);
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

    [LoggerMessage(4001, LogLevel.Debug, "WebSocket closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string reason);


    [LoggerMessage(4003, LogLevel.Debug, "WebSocket message refused: {Code}")]
    private static partial void LogBadMessage(ILogger logger, string code);

    [LoggerMessage(4004, LogLevel.Debug, "WebSocket closed with {Code}: {Reason}")]
    private static partial void LogRefused(ILogger logger, int code, string reason);

    [LoggerMessage(4005, LogLevel.Warning, "Could not subscribe a connection to {Group}")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception, string group);

    [LoggerMessage(4006, LogLevel.Debug, "WebSocket dropped: a ping went unanswered")]
    private static partial void LogPingTimeout(ILogger logger);
}
