using System.Collections.Concurrent;
using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.WebSockets;

/// <summary>
/// Every open WebSocket session of this node, for the work that is the same for all of them: one timer pings
/// them (and drops those that stop answering), and on shutdown each is closed with
/// <see cref="CloseCodes.Restarting"/> so its client resumes elsewhere. No timer or registration per connection.
/// </summary>
public sealed class HeartbeatMonitor(IOptions<GatewayOptions> options, IHostApplicationLifetime lifetime) : BackgroundService
{
    private readonly ConcurrentDictionary<WebSocketSession, byte> _sessions = new(ReferenceEqualityComparer.Instance);
    private readonly GatewayOptions _options = options.Value;

    /// <summary>Open sessions.</summary>
    public int Count => _sessions.Count;

    /// <summary>Watches a session.</summary>
    public void Add(WebSocketSession session) => _sessions.TryAdd(session, 0);

    /// <summary>Stops watching a session.</summary>
    public void Remove(WebSocketSession session) => _sessions.TryRemove(session, out _);

    /// <summary>Closes every connection with <paramref name="code"/>.</summary>
    public void CloseAll(int code, string reason)
    {
        foreach (var (session, _) in _sessions)
        {
            session.Close(code, reason);
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stopping = lifetime.ApplicationStopping.Register(() =>
        {
            foreach (var (session, _) in _sessions)
            {
                session.Stop();
            }
        });
        var shortest = _options.PingInterval < _options.PingTimeout ? _options.PingInterval : _options.PingTimeout;
        using var timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(50).Ticks, shortest.Ticks / 4)));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = Environment.TickCount64;
                foreach (var (session, _) in _sessions)
                {
                    session.Heartbeat(now);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
