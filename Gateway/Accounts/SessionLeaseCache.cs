using System.Collections.Concurrent;
using BookShelf.Gateway.Diagnostics;

namespace BookShelf.Gateway.Accounts;

/// <summary>
/// The sessions this gateway node may accept without asking their user's grain: each under the lease the grain
/// granted with its answer, counted from before the question was sent (so it runs out here no later than the grain
/// thinks). The node's <see cref="ISessionObserver"/>: a grain ending a session tells it to forget the lease before the
/// sign-out is acknowledged. A check answered after a revocation arrived is not remembered (the revocation may
/// have overtaken it). Only a cache: about <see cref="MaxEntries"/> leases at most, then it starts again.
/// </summary>
public sealed class SessionLeaseCache(IGrainFactory grains, TimeProvider time, GatewayMetrics? metrics = null) : ISessionObserver
{
    /// <summary>Leases held at most (one per signed-in script or browser this node served within a lease).</summary>
    public const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, long> _leases = new(StringComparer.Ordinal);
    private readonly Lock _starting = new();
    private ISessionObserver? _self;
    private long _revocations;

    /// <summary>Leases held now (expired ones included until looked up).</summary>
    public int Count => _leases.Count;

    /// <summary>Creates the node's observer (once the cluster client is connected); before that every check asks.</summary>
    public void Start()
    {
        lock (_starting)
        {
            _self ??= grains.CreateObjectReference<ISessionObserver>(this);
        }
    }

    /// <summary>Whether <paramref name="sessionId"/> of <paramref name="user"/> (the grain's key) is under a running lease here.</summary>
    public bool IsLeased(string user, string sessionId)
    {
        var key = Key(user, sessionId);
        if (_leases.TryGetValue(key, out var until))
        {
            if (time.GetTimestamp() < until)
            {
                metrics?.SessionChecked(fromLease: true);
                return true;
            }

            _leases.TryRemove(new KeyValuePair<string, long>(key, until));
        }

        return false;
    }

    /// <summary>Asks the user's grain (through <paramref name="ask"/>) and keeps the lease it grants.</summary>
    public async Task<bool> CheckAsync(string user, string sessionId, Func<ISessionObserver?, Task<SessionLease>> ask)
    {
        ArgumentNullException.ThrowIfNull(ask);
        var self = Volatile.Read(ref _self);
        var sent = time.GetTimestamp();
        var revocations = Interlocked.Read(ref _revocations);
        var answer = await ask(self);
        metrics?.SessionChecked(fromLease: false);
        if (self is null || !answer.Active || answer.For <= TimeSpan.Zero)
        {
            return answer.Active;
        }

        var key = Key(user, sessionId);
        if (_leases.Count >= MaxEntries)
        {
            _leases.Clear();
        }

        var until = sent + (long)(answer.For.TotalSeconds * time.TimestampFrequency);
        _leases[key] = until;
        // A revocation that arrived while the check was under way may concern this session and may have been handled
        // before the line above: then the lease must not stay.
        if (Interlocked.Read(ref _revocations) != revocations)
        {
            _leases.TryRemove(new KeyValuePair<string, long>(key, until));
        }

        return true;
    }

    /// <inheritdoc />
    Task ISessionObserver.RevokeAsync(string user, string sessionId)
    {
        Interlocked.Increment(ref _revocations);
        _leases.TryRemove(Key(user, sessionId), out _);
        return Task.CompletedTask;
    }

    private static string Key(string user, string sessionId) => string.Concat(user, "\n", sessionId);
}
