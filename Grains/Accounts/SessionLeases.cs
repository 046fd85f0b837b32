namespace BookShelf.Grains.Accounts;

/// <summary>
/// Which gateway nodes hold a lease on which of one user's sessions, and until when (in memory only: a new
/// activation of the user's grain does not know what an earlier one granted, see <see cref="UserGrain"/>).
/// </summary>
internal sealed class SessionLeases
{
    private readonly Dictionary<string, Dictionary<ISessionObserver, DateTimeOffset>> _bySession = new(StringComparer.Ordinal);

    /// <summary>Records that <paramref name="holder"/> may accept <paramref name="sessionId"/> until <paramref name="until"/>; drops the session's expired leases.</summary>
    public void Grant(string sessionId, ISessionObserver holder, DateTimeOffset now, DateTimeOffset until)
    {
        if (!_bySession.TryGetValue(sessionId, out var holders))
        {
            _bySession[sessionId] = holders = [];
        }

        foreach (var (node, expires) in holders)
        {
            if (expires <= now)
            {
                holders.Remove(node);
            }
        }

        holders[holder] = until;
    }

    /// <summary>Removes and returns the leases on <paramref name="sessionId"/> still running at <paramref name="now"/>.</summary>
    public List<(ISessionObserver Holder, DateTimeOffset Until)> Take(string sessionId, DateTimeOffset now)
    {
        if (!_bySession.Remove(sessionId, out var holders))
        {
            return [];
        }

        return [.. holders.Where(h => h.Value > now).Select(h => (h.Key, h.Value))];
    }

    /// <summary>Whether any lease still runs at <paramref name="now"/>.</summary>
    public bool AnyRunning(DateTimeOffset now) => _bySession.Values.Any(holders => holders.Values.Any(until => until > now));

    /// <summary>Forgets the sessions not in <paramref name="stored"/> (ended or expired ones whose leases are done).</summary>
    public void Retain(IReadOnlyDictionary<string, DateTimeOffset> stored, DateTimeOffset now)
    {
        foreach (var (session, holders) in _bySession)
        {
            if (!stored.ContainsKey(session) && holders.Values.All(until => until <= now))
            {
                _bySession.Remove(session);
            }
        }
    }
}
