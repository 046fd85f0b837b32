using BookShelf.Gateway.Diagnostics;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// A connection's output as a small state machine: a frame is written at once when the socket is free; while
/// a send is pending, frames wait in a backlog (at most <c>sendQueueLimit</c> frames) and leave together as one
/// write when it finishes. A connection whose backlog would overflow is too slow: what waits is dropped and it
/// is closed with 4001 and a resume hint. Nothing goes out after the close frame. The session's lock
/// (<c>gate</c>) guards this state too: methods named <c>...Locked</c> are called holding it.
/// </summary>
internal sealed partial class SessionOutput(Lock gate, int sendQueueLimit, Action endReceiving, GatewayMetrics metrics, ILogger logger)
{
    private FrameOutput? _output;
    private Action _abort = () => { };
    private Queue<ReadOnlyMemory<byte>>? _backlog;
    private int _backlogFrames;
    private TaskCompletionSource? _drained;
    private bool _busy = true; // a send is pending, or (until Attach) there is nowhere to send yet
    private bool _outputClosed;

    /// <summary>Frames waiting in the backlog. Holds the lock.</summary>
    public int QueuedFramesLocked => _backlogFrames;

    /// <summary>Whether the close frame was written (or the output failed): nothing more goes out. Holds the lock.</summary>
    public bool IsClosedLocked => _outputClosed;

    /// <summary>Attaches the connection's output and sends what waited. Holds the lock.</summary>
    public void AttachLocked(FrameOutput output, Action abort)
    {
        _output = output;
        _abort = abort;
        _busy = false;
        SendBacklogLocked();
    }

    /// <summary>Drops the connection at once.</summary>
    public void Abort() => _abort();

    /// <summary>
    /// Null when fewer than <paramref name="frames"/> frames wait (a bulk sender may go on); otherwise a task that
    /// completes when the backlog has drained. Holds the lock.
    /// </summary>
    public Task? RoomLocked(int frames) =>
        !_busy || _backlogFrames < frames ? null : (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>
    /// Sends <paramref name="frames"/> frames (one buffer) now, or puts them in the backlog while a send is pending;
    /// the backlog holds at most <see cref="GatewayOptions.SendQueueLimit"/> frames. Holds the lock.
    /// </summary>
    public void SendLocked(ReadOnlyMemory<byte> bytes, int frames = 1)
    {
        if (_outputClosed)
        {
            return;
        }

        if (_busy)
        {
            if (_backlogFrames + frames > sendQueueLimit)
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

            lock (gate)
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
        endReceiving();
    }

    private void TooSlowLocked()
    {
        LogTooSlow(logger, sendQueueLimit);
        metrics.SlowConsumer();
        // What waits is dropped; the close frame goes after what the socket already holds. If even that cannot
        // leave, the connection is dropped when closing gives up.
        _backlog = null;
        _backlogFrames = 0;
        WriteCloseLocked(CloseCodes.TooSlow, "too slow: reconnect and resume");
        endReceiving();
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
    public async Task CloseAsync(int code, string reason)
    {
        Task drained;
        lock (gate)
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

    [LoggerMessage(4002, LogLevel.Debug, "WebSocket client too slow: {Limit} frames waiting; closing with a resume hint")]
    private static partial void LogTooSlow(ILogger logger, int limit);
}
