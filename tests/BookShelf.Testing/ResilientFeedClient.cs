using System.Net.WebSockets;
using System.Text.Json.Nodes;

namespace BookShelf.Testing;

/// <summary>
/// A WebSocket client of the site group that behaves like the BookShelf page script: on any disconnect it
/// reconnects (to the next gateway when one is dead) and resumes from the last seq it saw. It records every
/// post id and every protocol violation: a seq that is not exactly the previous one plus one (a gap or a
/// repeat), or a reset.
/// </summary>
public sealed class ResilientFeedClient : IAsyncDisposable
{
    private readonly IReadOnlyList<GatewayNode> _gateways;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<long> _ids = [];
    private readonly List<string> _violations = [];
    private readonly Lock _lock = new();
    private readonly Task _loop;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _gateway;
    private long _lastSeq = -1;

    /// <summary>Starts the client on gateway <paramref name="first"/> of <paramref name="gateways"/>.</summary>
    public ResilientFeedClient(IReadOnlyList<GatewayNode> gateways, int first)
    {
        _gateways = gateways;
        _gateway = first;
        _loop = RunAsync();
    }

    /// <summary>How many times it had to reconnect.</summary>
    public int Reconnects { get; private set; }

    /// <summary>Whether it is subscribed right now.</summary>
    public bool IsLive { get; private set; }

    /// <summary>Post ids received, in order.</summary>
    public IReadOnlyList<long> Ids
    {
        get
        {
            lock (_lock)
            {
                return [.. _ids];
            }
        }
    }

    /// <summary>Gaps, repeats and resets seen.</summary>
    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_lock)
            {
                return [.. _violations];
            }
        }
    }

    /// <summary>Waits until it is subscribed.</summary>
    public Task WaitLiveAsync(TimeSpan timeout) => WaitAsync(() => IsLive, () => "the client to be subscribed", timeout);

    /// <summary>Waits until every id in <paramref name="ids"/> arrived.</summary>
    public Task WaitForAsync(IReadOnlyCollection<long> ids, TimeSpan timeout)
    {
        var wanted = ids.ToHashSet();
        return WaitAsync(() => wanted.IsSubsetOf(Ids), () => $"{wanted.Count} post ids (have {Ids.Count}, reconnects {Reconnects}, on gateway {_gateway % _gateways.Count}, last seq {_lastSeq}, missing {Missing(wanted)})", timeout);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>How many of <paramref name="wanted"/> have not arrived, and the first few of them.</summary>
    private string Missing(HashSet<long> wanted)
    {
        var missing = wanted.Except(Ids).Order().ToList();
        return $"{missing.Count}: {string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? ", ..." : "")}";
    }

    private async Task WaitAsync(Func<bool> condition, Func<string> what, TimeSpan timeout)
    {
        using var timer = new CancellationTokenSource(timeout);
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;
            if (condition())
            {
                return;
            }

            try
            {
                await changed.WaitAsync(timer.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:F0} s waiting for {what()}.");
            }
        }
    }

    private void Pulse() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private async Task RunAsync()
    {
        var delay = TimeSpan.FromMilliseconds(50);
        var first = true;
        while (!_stop.IsCancellationRequested)
        {
            var gateway = _gateways[_gateway % _gateways.Count];
            var query = _lastSeq < 0 ? "?groups=site" : $"?resume=site:{_lastSeq}";
            try
            {
                using var socket = new ClientWebSocket();
                using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(5));
                await socket.ConnectAsync(gateway.WebSocketUri(query), connectTimeout.Token);
                if (!first)
                {
                    Reconnects++;
                }

                first = false;
                delay = TimeSpan.FromMilliseconds(50);
                await ReadAsync(socket);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException && !_stop.IsCancellationRequested)
            {
                // Dead or restarting gateway: try the next one after a short backoff.
            }
            catch (OperationCanceledException)
            {
                return;
            }

            IsLive = false;
            Pulse();
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            _gateway++;
            await Task.Delay(delay, _stop.Token);
            delay = TimeSpan.FromMilliseconds(Math.Min(1000, delay.TotalMilliseconds * 2));
        }
    }

    private async Task ReadAsync(ClientWebSocket socket)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(length), _stop.Token);
                length += result.Count;
            }
            while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }

            var frame = JsonNode.Parse(buffer.AsSpan(0, length))!.AsObject();
            var type = (string?)frame["type"];
            lock (_lock)
            {
                if (type == "subscribed")
                {
                    var last = frame["last_seq"]!.GetValue<long>();
                    if (_lastSeq >= 0 && last != _lastSeq)
                    {
                        _violations.Add($"subscribed at {last} after resuming from {_lastSeq}");
                    }

                    _lastSeq = Math.Max(_lastSeq, last);
                    IsLive = true;
                }
                else if (type == "reset")
                {
                    _violations.Add($"reset to {frame["last_seq"]} from {_lastSeq}");
                    _lastSeq = frame["last_seq"]!.GetValue<long>();
                }
                else if (type == "post")
                {
                    var seq = frame["seq"]!.GetValue<long>();
                    if (seq != _lastSeq + 1)
                    {
                        _violations.Add($"seq {seq} after {_lastSeq}");
                    }

                    _lastSeq = Math.Max(_lastSeq, seq);
                    _ids.Add(frame["new_id"]!.GetValue<long>());
                }
            }

            Pulse();
        }
    }
}
