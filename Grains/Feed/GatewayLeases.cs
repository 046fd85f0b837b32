namespace BookShelf.Grains.Feed;

/// <summary>
/// The gateway nodes subscribed to one group, each until its lease runs out. A node renews well inside the
/// lease; one that stops (dead, cut off, paused) is dropped at the next look after its lease expired.
/// </summary>
internal sealed class GatewayLeases<T>(TimeProvider time, TimeSpan duration)
    where T : notnull
{
    private readonly Dictionary<T, DateTimeOffset> _leases = [];

    /// <summary>Nodes with a lease, expired ones included until <see cref="DropExpired"/>.</summary>
    public int Count => _leases.Count;

    /// <summary>Nodes holding a lease.</summary>
    public IEnumerable<T> Holders => _leases.Keys;

    /// <summary>Grants or renews a lease; true when the node is new.</summary>
    public bool Renew(T node)
    {
        var isNew = !_leases.ContainsKey(node);
        _leases[node] = time.GetUtcNow() + duration;
        return isNew;
    }

    /// <summary>Ends a lease; true when there was one.</summary>
    public bool Remove(T node) => _leases.Remove(node);

    /// <summary>Drops every lease that has expired; returns how many.</summary>
    public int DropExpired()
    {
        if (_leases.Count == 0)
        {
            return 0;
        }

        var now = time.GetUtcNow();
        var expired = 0;
        foreach (var (node, expires) in _leases)
        {
            if (expires < now)
            {
                _leases.Remove(node);
                expired++;
            }
        }

        return expired;
    }
}
