using System.Text;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.WebSockets;

namespace BookShelf.Gateway.Sse;

/// <summary>
/// The stream's output: SSE events (<c>id:</c> the position after the event, <c>data:</c> the frame's JSON) wait in
/// a bounded queue and one loop writes them to the response as they come, with a heartbeat comment when it has
/// been quiet; a stream whose queue would overflow is too slow and is ended. The session's lock guards the queue:
/// methods named <c>...Locked</c> are called holding it.
/// </summary>
public sealed partial class SseSession
{
    private async Task WriteLoopAsync(HttpResponse response, CancellationToken token)
    {
        // The client reconnects a second after the stream ends (the browser's default is about 3 s).
        await response.Body.WriteAsync("retry: 1000\n\n"u8.ToArray(), token);
        await response.Body.FlushAsync(token);
        var quiet = _options.PingInterval;
        while (true)
        {
            byte[][] batch;
            Task queued;
            lock (_lock)
            {
                batch = [.. _pending];
                _pending.Clear();
                queued = _queued.Task;
                if (batch.Length == 0)
                {
                    _queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    queued = _queued.Task;
                }
            }

            if (batch.Length == 0)
            {
                try
                {
                    // One wait with its own timeout (no timer left behind when an event comes first).
                    await queued.WaitAsync(quiet, _time, token);
                }
                catch (TimeoutException)
                {
                    await response.Body.WriteAsync(": ping\n\n"u8.ToArray(), token);
                    await response.Body.FlushAsync(token);
                }

                continue;
            }

            foreach (var chunk in batch)
            {
                await response.Body.WriteAsync(chunk, token);
            }

            await response.Body.FlushAsync(token);
            _metrics.Delivered(batch.Length);
            TaskCompletionSource written;
            lock (_lock)
            {
                written = _written;
                _written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            written.TrySetResult();
        }
    }

    private void Send(byte[] json)
    {
        lock (_lock)
        {
            EnqueueLocked(Event(json, withId: false));
        }
    }

    /// <summary>The events of <paramref name="frame"/> this stream has not had, each with the position after it. Holds the lock.</summary>
    private void EnqueueAfterLocked(FeedFrame frame)
    {
        if (Find(frame.Group) is not { } position || frame.LastSeq <= position.LastSeq)
        {
            return;
        }

        for (var i = 0; i < frame.Events.Count; i++)
        {
            if (frame.Events[i].Seq <= position.LastSeq)
            {
                continue;
            }

            position.LastSeq = frame.Events[i].Seq;
            position.Known = true;
            EnqueueLocked(Event(frame.JsonOf(i).Span, withId: true));
        }
    }

    private void EnqueueLocked(byte[] sseEvent)
    {
        if (TooSlow)
        {
            return;
        }

        if (_pending.Count >= _options.SendQueueLimit)
        {
            // Too far behind: end the stream. The client resumes from the last event it was sent.
            TooSlow = true;
            _pending.Clear();
            _metrics.SlowConsumer();
            LogTooSlow(_logger, _options.SendQueueLimit);
            // Not under the lock (this runs on a fan-out thread): the write loop's continuations run elsewhere.
            ThreadPool.UnsafeQueueUserWorkItem(static ended => ended.Cancel(), _ended, preferLocal: false);
            return;
        }

        _pending.Enqueue(sseEvent);
        _queued.TrySetResult();
    }

    /// <summary>One SSE event: <c>id:</c> (the position, when asked) and <c>data:</c> (JSON has no raw newline). Holds the lock.</summary>
    private byte[] Event(ReadOnlySpan<byte> json, bool withId)
    {
        var id = withId ? PositionLocked() : null;
        var length = (id is null ? 0 : 5 + Encoding.ASCII.GetByteCount(id)) + 6 + json.Length + 2;
        var bytes = new byte[length];
        var at = 0;
        if (id is not null)
        {
            at += Encoding.ASCII.GetBytes("id: " + id + "\n", bytes);
        }

        at += Encoding.ASCII.GetBytes("data: ", bytes.AsSpan(at));
        json.CopyTo(bytes.AsSpan(at));
        at += json.Length;
        bytes[at] = (byte)'\n';
        bytes[at + 1] = (byte)'\n';
        return bytes;
    }

    [LoggerMessage(4303, LogLevel.Information, "SSE stream ended: more than {Limit} events waited for a slow client")]
    private static partial void LogTooSlow(ILogger logger, int limit);
}
