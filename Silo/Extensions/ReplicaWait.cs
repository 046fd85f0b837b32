using StackExchange.Redis;

namespace BookShelf.Silo.Extensions;

/// <summary>
/// Asks Redis how many replicas have everything written so far: increments a marker key and sends
/// <c>WAIT replicas timeout</c> on the connection the grain state goes over. Callers that arrive while a WAIT is out share the next one, so
/// one WAIT is in flight per silo and a Redis without replicas costs each write one timeout, not a queue of them.
/// A round starts only after every caller in it has joined, so its marker follows their writes.
/// </summary>
public sealed class ReplicaWait(IConnectionMultiplexer redis, string markerKey, int replicas, TimeSpan timeout)
{
    private static readonly TimeSpan RoundGrace = TimeSpan.FromSeconds(5);
    private readonly RedisKey _marker = markerKey;
    private readonly Lock _gate = new();
    private TaskCompletionSource<long>? _next;
    private bool _running;

    /// <summary>How many replicas a write must reach.</summary>
    public int Replicas => replicas;

    /// <summary>How long a WAIT waits for them.</summary>
    public TimeSpan Timeout => timeout;

    /// <summary>
    /// The replicas that have what the caller wrote before calling: the next round not yet sent, whose marker goes
    /// out after this call.
    /// </summary>
    public Task<long> NextAsync()
    {
        lock (_gate)
        {
            if (_next is null)
            {
                _next = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                if (!_running)
                {
                    _running = true;
                    // Off the grain's scheduler: the rounds serve every grain of this silo.
                    _ = Task.Run(RunRoundsAsync);
                }
            }

            return _next.Task;
        }
    }

    private async Task RunRoundsAsync()
    {
        while (true)
        {
            TaskCompletionSource<long> round;
            lock (_gate)
            {
                if (_next is null)
                {
                    _running = false;
                    return;
                }

                round = _next;
                _next = null;
            }

            try
            {
                var db = redis.GetDatabase();
                // Both commands go on this connection in this order, so WAIT counts the replicas that have the marker.
                var marked = db.StringIncrementAsync(_marker);
                var acked = db.ExecuteAsync("WAIT", replicas, (long)timeout.TotalMilliseconds);
                // Bounded here too: a round that never ended would hold every later write of this silo.
                var both = Task.WhenAll(marked, acked);
                _ = both.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                await both.WaitAsync(timeout + RoundGrace);
                round.SetResult((long)await acked);
            }
            catch (Exception ex)
            {
                round.SetException(ex);
            }
        }
    }
}
