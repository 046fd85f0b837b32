using System.Diagnostics;
using BookShelf.Testing.Lab;

namespace BookShelf.Cluster.Tests;

/// <summary>
/// What latency between silos costs: the lab's hosts (Redis, 3 silos, 2 gateways), each silo reached by the
/// others through a <see cref="DelayProxy"/> (the kernel here has no <c>netem</c>; the proxy holds every byte
/// for the delay each way, so a round trip between two silos takes twice the delay more). Post and delivery
/// p99 are measured with no delay and with 50 ms, and recorded; every post reaches every client exactly once.
/// </summary>
public sealed class LabLatencyTests : IAsyncLifetime
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(50);
    private LabCluster? _cluster;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        if (NetworkLab.Unavailable() is not null)
        {
            return;
        }

        _cluster = await LabCluster.StartAsync(
            [LocalSystem.RedisHost, .. Enumerable.Range(0, 3).Select(LocalSystem.SiloHost), .. Enumerable.Range(0, 2).Select(LocalSystem.GatewayHost)],
            new LocalSystemOptions
            {
                Folder = "lab-latency",
                Silos = 3,
                Gateways = 2,
                SiloLinkDelay = TimeSpan.Zero,
                GatewayArguments = LocalSystemOptions.RaisedWriteLimits,
            },
            clients: 4);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task FiftyMillisecondsBetweenSilosCostsThisMuch()
    {
        if (_cluster is null)
        {
            Assert.Skip($"no network lab here: {NetworkLab.Unavailable()}");
        }

        var system = _cluster.System;
        // Warm first: the first posts of a new cluster pay for its JIT and connections, not for the network.
        await MeasureAsync(_cluster, "warm-up", posts: 20);
        var calm = await MeasureAsync(_cluster, "calm");
        foreach (var link in system.SiloLinks)
        {
            link.Delay = Delay;
        }

        var before = system.SiloLinks.Sum(l => l.Relayed);
        var slow = await MeasureAsync(_cluster, "slow");
        var relayed = system.SiloLinks.Sum(l => l.Relayed) - before;
        Figures.Record("lab", $"{Delay.TotalMilliseconds:F0} ms each way between silos (a proxy in front of each silo port): post p50/p99 {calm.PostP50:F0}/{calm.PostP99:F0} -> {slow.PostP50:F0}/{slow.PostP99:F0} ms, delivery p50/p99 {calm.DeliveryP50:F0}/{calm.DeliveryP99:F0} -> {slow.DeliveryP50:F0}/{slow.DeliveryP99:F0} ms ({calm.Posts} posts each, one at a time, {_cluster.Clients.Count} clients on 2 gateways; {relayed / 1024} KiB between silos meanwhile)");
        foreach (var client in _cluster.Clients)
        {
            Assert.Empty(client.Violations);
            Assert.Equal(client.Ids.Count, client.Ids.Distinct().Count());
        }

        // The delay reached the posts' path. Each post is created with its own Idempotency-Key, so through that key's
        // grain, on whichever silo the key fell to (they spread over the three), and is confirmed by the site's feed,
        // which is on another silo for two posts in three: those wait a round trip (two delays) between silos. So more
        // than half of the 100 posts cross (fewer than 51 would be 4 standard deviations below the 67 expected), and the
        // median rises by more than one delay (the rest of the path varies by a few ms). Without keys every create
        // from a gateway runs on one silo, which holds the site's feed in one cluster in three.
        Assert.True(slow.PostP50 - calm.PostP50 >= Delay.TotalMilliseconds, $"post p50 {calm.PostP50:F0} -> {slow.PostP50:F0} ms: the delay did not reach the posts' path between silos");
    }

    private static async Task<Measured> MeasureAsync(LabCluster cluster, string label, int posts = 100)
    {
        using var api = new ApiClient(cluster.System.Gateways[0].BaseAddress);
        await api.SignUpAndSignInAsync();
        var created = new List<double>();
        var deliveries = new List<double>();
        for (var i = 0; i < posts; i++)
        {
            var clock = Stopwatch.StartNew();
            var id = await api.CreatePostAsync($"{label} {i}", idempotencyKey: Guid.NewGuid().ToString("N"));
            created.Add(clock.Elapsed.TotalMilliseconds);
            foreach (var client in cluster.Clients)
            {
                await client.WaitForAsync([id], TimeSpan.FromSeconds(10));
            }

            deliveries.Add(clock.Elapsed.TotalMilliseconds);
        }

        return new(Percentile(created, 0.5), Percentile(created, 0.99), Percentile(deliveries, 0.5), Percentile(deliveries, 0.99), created.Count);
    }

    private static double Percentile(List<double> values, double p) => values.Order().ElementAt((int)Math.Ceiling(values.Count * p) - 1);

    private sealed record Measured(double PostP50, double PostP99, double DeliveryP50, double DeliveryP99, int Posts);
}
