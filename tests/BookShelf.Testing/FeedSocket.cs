using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace BookShelf.Testing;

/// <summary>
/// A WebSocket client of <c>/ws/update_notice/</c> that records every text frame as JSON, in order, and lets a
/// test wait for a condition on them. It reads continuously unless created with <c>read: false</c>.
/// </summary>
public sealed class FeedSocket : IAsyncDisposable
{
    private readonly WebSocket _socket;
    private readonly List<JsonObject> _frames = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _reader = Task.CompletedTask;

    private FeedSocket(WebSocket socket) => _socket = socket;

    /// <summary>The socket.</summary>
    public WebSocket Socket => _socket;

    /// <summary>Every frame received so far.</summary>
    public IReadOnlyList<JsonObject> Frames
    {
        get
        {
            lock (_lock)
            {
                return [.. _frames];
            }
        }
    }

    /// <summary>Event frames (those with a seq) of <paramref name="group"/>.</summary>
    public IReadOnlyList<JsonObject> Events(string group) =>
        [.. Frames.Where(f => f["seq"] is not null && (string?)f["group"] == group)];

    /// <summary>How the server closed the connection, once it has.</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    /// <summary>Set when the connection ended without a close frame.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Connects (optionally with an Origin header) and starts reading.</summary>
    public static async Task<FeedSocket> ConnectAsync(Uri uri, string? origin = null, bool read = true, CancellationToken cancellationToken = default)
    {
        var socket = new ClientWebSocket();
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        await socket.ConnectAsync(uri, cancellationToken);
        var feed = new FeedSocket(socket);
        if (read)
        {
            feed.StartReading();
        }

        return feed;
    }

    /// <summary>
    /// Wraps a stream on which a WebSocket upgrade was sent and the status line of the 101 answer read; reads the
    /// rest of the answer's head, then frames.
    /// </summary>
    public static async Task<FeedSocket> ConnectFromStreamAsync(Stream stream)
    {
        var tail = new byte[4];
        var one = new byte[1];
        while (!(tail[0] == '\r' && tail[1] == '\n' && tail[2] == '\r' && tail[3] == '\n'))
        {
            await stream.ReadExactlyAsync(one);
            tail = [tail[1], tail[2], tail[3], one[0]];
        }

        var feed = new FeedSocket(WebSocket.CreateFromStream(stream, isServer: false, subProtocol: null, keepAliveInterval: Timeout.InfiniteTimeSpan));
        feed.StartReading();
        return feed;
    }

    /// <summary>Starts the read loop (for a socket created with <c>read: false</c>).</summary>
    public void StartReading() => _reader = ReadLoopAsync();

    /// <summary>Sends a text message.</summary>
    public Task SendAsync(string text) => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, _stop.Token);

    /// <summary>Sends raw bytes as one message of the given type.</summary>
    public Task SendAsync(byte[] bytes, WebSocketMessageType type) => _socket.SendAsync(bytes, type, true, _stop.Token);

    /// <summary>Waits until <paramref name="condition"/> holds on the frames received; throws <see cref="TimeoutException"/> naming <paramref name="what"/>.</summary>
    public async Task WaitForAsync(Func<IReadOnlyList<JsonObject>, bool> condition, string what, TimeSpan? timeout = null)
    {
        using var timer = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition(_frames))
                {
                    return;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(timer.Token);
            }
            catch (OperationCanceledException)
            {
                var last = Frames.LastOrDefault()?.ToJsonString() ?? "none";
                throw new TimeoutException($"Timed out waiting for {what}; {Frames.Count} frame(s) received, the last: {last}; close: {CloseStatus}");
            }
        }
    }

    /// <summary>Waits for <paramref name="count"/> event frames of <paramref name="group"/>.</summary>
    public Task WaitForEventsAsync(string group, int count, string what, TimeSpan? timeout = null) =>
        WaitForAsync(frames => frames.Count(f => f["seq"] is not null && (string?)f["group"] == group) >= count, what, timeout);

    /// <summary>Waits until the connection is over (closed by the server, or broken).</summary>
    public Task WaitClosedAsync(string what, TimeSpan? timeout = null) =>
        WaitForAsync(_ => CloseStatus is not null || Failure is not null, what, timeout);

    /// <summary>Sends a ping message and waits for its pong: every frame the server queued before it has arrived.</summary>
    public async Task RoundTripAsync()
    {
        var pongs = Frames.Count(f => (string?)f["type"] == "pong");
        await SendAsync("""{"type":"ping"}""");
        await WaitForAsync(frames => frames.Count(f => (string?)f["type"] == "pong") > pongs, "a pong");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }

        await _stop.CancelAsync();
        try
        {
            await _reader;
        }
        catch (OperationCanceledException)
        {
        }

        _socket.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }

                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), _stop.Token);
                    length += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = _socket.CloseStatus;
                    Pulse();
                    return;
                }

                var frame = JsonNode.Parse(buffer.AsSpan(0, length))!.AsObject();
                lock (_lock)
                {
                    _frames.Add(frame);
                }

                Pulse();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException)
        {
            Failure = ex;
            Pulse();
        }
    }

    private void Pulse()
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            previous = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }
}
