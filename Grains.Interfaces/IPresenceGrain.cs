using Orleans.Concurrency;

namespace BookShelf.Grains.Interfaces;

/// <summary>
/// How many connections are in one group across the cluster right now, keyed by group name. Each gateway node
/// reports its own count with a lease; the grain sums the live reports, drops a node whose lease ran out (a
/// dead or cut-off gateway), and pushes the total to the nodes that asked, at most about once a second. Held in
/// memory only: when the grain moves, the nodes' next reports rebuild it within a renewal.
/// </summary>
[Alias("BookShelf.IPresenceGrain")]
public interface IPresenceGrain : IGrainWithStringKey
{
    /// <summary>
    /// A node's count of its local connections in the group, valid for <paramref name="lease"/>. Reports carry a
    /// number that grows with each report of the node: an older one arriving late is ignored. With a
    /// <paramref name="watcher"/>, the node wants the total pushed while its lease lasts. Returns the total.
    /// </summary>
    [Alias("Report")]
    Task<int> ReportAsync(Guid node, long version, int count, TimeSpan lease, IPresenceObserver? watcher);

    /// <summary>The total now.</summary>
    [ReadOnly, Alias("Count")]
    Task<int> GetCountAsync();
}

/// <summary>A gateway node's receiver of presence totals.</summary>
[Alias("BookShelf.IPresenceObserver")]
public interface IPresenceObserver : IGrainObserver
{
    /// <summary>The group's cluster-wide count changed (debounced).</summary>
    [OneWay, Alias("OnPresence")]
    Task OnPresenceAsync(string group, int count);
}
