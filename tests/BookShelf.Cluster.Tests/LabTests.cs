using System.Diagnostics;
using BookShelf.Testing.Lab;

namespace BookShelf.Cluster.Tests;

/// <summary>
/// The cluster over a real network: Redis, 3 silos and 2 gateways each on a host of its own (network namespaces
/// joined by a bridge, addresses that are not loopback), resuming clients on both gateways and posts at 20/s
/// throughout, while the lab cuts hosts apart and heals them. After each fault every acknowledged post is at
/// every client exactly once, in seq order. Skipped, saying why, where namespaces cannot be made (not root).
/// </summary>
public sealed class LabTests : IAsyncLifetime
{
    private const double PostsPerSecond = 20;
    private static readonly TimeSpan Partition = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(90);
    private LabCluster? _cluster;

    private IReadOnlyList<ResilientFeedClient> Clients => _cluster!.Clients;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        if (NetworkLab.Unavailable() is not null)
        {
            return;
        }

        _cluster = await LabCluster.StartAsync(
            [LocalSystem.RedisHost, LocalRedis.Host(1), LocalRedis.Host(2), .. Enumerable.Range(0, 3).Select(LocalSystem.SiloHost), .. Enumerable.Range(0, 2).Select(LocalSystem.GatewayHost)],
            new LocalSystemOptions
            {
                Folder = "lab",
                Silos = 3,
                Gateways = 2,
                // As docs/deployment.md sets it up: a primary and two replicas on hosts of their own, a Sentinel
                // beside each, and posts acknowledged once a replica has them.
                RedisReplicas = 2,
                GatewayArguments = [.. LocalSystemOptions.RaisedWriteLimits, "--Gateway:Feed:RenewInterval", "00:00:02", "--Gateway:ClusterLostAfter", "00:00:06", "--Logging:Console:TimestampFormat", "HH:mm:ss.fff ", "--Logging:LogLevel:BookShelf.Gateway.Posts", "Information", "--Logging:LogLevel:BookShelf.Gateway.Feed", "Debug"],
                SiloArguments = ["--Feed:LeaseDuration", "00:00:08", "--Silo:RedisReplicasToAck", "1", "--Logging:Console:TimestampFormat", "HH:mm:ss.fff "],
            },
            clients: 8);
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
    public async Task ASiloCutFromTheOtherSilosIsDeclaredDeadAndStopsAndTheClusterGoesOn()
    {
        var (lab, system) = Lab();
        await using var load = await PostLoad.StartAsync(system.Gateways, PostsPerSecond);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));

        // Cut from the other silos, not from Redis or the gateways: the others vote it dead; it reads so in Redis.
        var cut = system.Silos[2];
        lab.Cut(LocalSystem.SiloHost(2), LocalSystem.SiloHost(0), LocalSystem.SiloHost(1));
        var clock = Stopwatch.StartNew();
        var stopped = await cut.Process.WaitForExitAsync(Partition * 3);
        var stoppedAfter = clock.Elapsed;
        await load.WaitForMoreAsync(40, Recovery);
        if (clock.Elapsed < Partition)
        {
            await Task.Delay(Partition - clock.Elapsed, TestContext.Current.CancellationToken); // the partition lasts 20 s, as the issue asks
        }

        lab.HealAll();
        await load.WaitForMoreAsync(20, Recovery);
        await load.StopAsync();
        Assert.True(stopped, $"the silo cut from the others was not declared dead and did not stop; what the silos logged of it:\n{MembershipLines(system)}");
        await AssertExactlyOnceAsync(load, $"silo cut from the other silos: it stopped {stoppedAfter.TotalSeconds:F1} s after the cut; healed after {Partition.TotalSeconds:F0} s");
    }

    [Fact]
    public async Task AGatewayCutFromEverySiloTellsItsClientsToReconnectAndTheyResumeOnTheOther()
    {
        var (lab, system) = Lab();
        await using var load = await PostLoad.StartAsync([system.Gateways[1]], PostsPerSecond);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));
        var before = Clients.Sum(c => c.Reconnects);

        lab.Cut(LocalSystem.GatewayHost(0), [.. Enumerable.Range(0, 3).Select(LocalSystem.SiloHost)]);
        var clock = Stopwatch.StartNew();
        // Its clients are told (close code 4002) and resume on the other gateway; none waits out the partition.
        foreach (var client in Clients)
        {
            await client.WaitLiveAsync(Recovery);
        }

        await Poll.UntilAsync(() => Task.FromResult(Clients.Sum(c => c.Reconnects) - before >= Clients.Count / 2), Partition, "the cut gateway's clients to reconnect", cancellationToken: TestContext.Current.CancellationToken);
        var movedAfter = clock.Elapsed;
        var ids = load.Acknowledged.ToList();
        foreach (var client in Clients)
        {
            await client.WaitForAsync(ids, Partition);
        }

        var caughtUpAfter = clock.Elapsed;
        Assert.True(caughtUpAfter < Partition, $"clients caught up only after {caughtUpAfter.TotalSeconds:F1} s: they waited for the partition to heal");
        await Task.Delay(Partition - clock.Elapsed, TestContext.Current.CancellationToken);
        lab.HealAll();
        await load.WaitForMoreAsync(20, Recovery);
        await load.StopAsync();
        await AssertExactlyOnceAsync(load, $"gateway cut from every silo: its clients moved within {movedAfter.TotalSeconds:F1} s and had every post {caughtUpAfter.TotalSeconds:F1} s after the cut");
    }

    // Failed in 4 of 14 runs. Two faults were found in turn, both fixed: gateways could not load the cut silo's
    // RedisStorageException, and Orleans then left that connection's later answers unread for 90 s and more
    // (WireContractTests); with that fixed, 2 of 33 runs still failed because Orleans fails a request that expired
    // before the cut silo could place it with an OperationCanceledException, which ended the gateway's lease
    // renewals (LeaseRenewalTests). 15 of 15 passed with both fixes.
    [Fact]
    public async Task ASiloCutFromRedisLosesNothingAcknowledgedAndServesAgainWhenHealed()
    {
        var (lab, system) = Lab();
        await using var load = await PostLoad.StartAsync(system.Gateways, PostsPerSecond);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));

        // Cut from Redis only: it still answers the other silos' probes, so it stays a member; what it stores fails.
        lab.Cut(LocalSystem.SiloHost(1), LocalSystem.RedisHost, LocalRedis.Host(1), LocalRedis.Host(2));
        var during = load.Acknowledged.Count;
        await Task.Delay(Partition, TestContext.Current.CancellationToken); // the partition lasts 20 s, as the issue asks
        var acknowledgedDuring = load.Acknowledged.Count - during;
        lab.HealAll();
        var healed = Stopwatch.StartNew();
        await load.WaitForMoreAsync(40, Recovery);
        await load.StopAsync();
        // It stayed a member throughout and serves again: running, and ready (an active member) once healed.
        var cut = system.Silos[1];
        Assert.True(cut.Process.IsRunning, "the silo cut from Redis stopped");
        await system.WaitReadyAsync(cut.Process, cut.HttpPort, cut.Host);
        await AssertExactlyOnceAsync(load, $"silo cut from Redis for {Partition.TotalSeconds:F0} s: {acknowledgedDuring} posts acknowledged during the cut, 40 more {healed.Elapsed.TotalSeconds:F1} s after healing; the cut silo kept running and is ready");
    }

    [Fact]
    public async Task TheRedisPrimaryCutOffIsReplacedAndEverySiloAndGatewayFollows()
    {
        var (lab, system) = Lab();
        await using var load = await PostLoad.StartAsync(system.Gateways, PostsPerSecond);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));
        var redis = system.RedisServers;
        var primary = await redis.PrimaryAsync();

        // The primary's host (and the Sentinel beside it) loses the network; the other two Sentinels promote the replica.
        lab.Cut(primary.Host, [.. lab.Hosts.Where(h => h != primary.Host)]);
        var clock = Stopwatch.StartNew();
        await Poll.UntilAsync(async () => await redis.TryPrimaryAsync() is { } now && now != primary, Recovery, "Sentinel to promote the replica", cancellationToken: TestContext.Current.CancellationToken);
        var promotedAfter = clock.Elapsed;
        // While the old primary is still cut off: silos and gateways give up its silent connection and ask the
        // Sentinels (before Redis connections had a TCP_USER_TIMEOUT, writes came back only once the cut healed).
        Assert.True(clock.Elapsed < Partition, $"the replica was promoted only {promotedAfter.TotalSeconds:F1} s after the cut, after the partition was to end");
        await load.WaitForMoreAsync(40, Partition - clock.Elapsed);
        var writingAfter = clock.Elapsed;
        if (clock.Elapsed < Partition)
        {
            await Task.Delay(Partition - clock.Elapsed, TestContext.Current.CancellationToken); // the partition lasts 20 s, as the issue asks
        }

        lab.HealAll();
        // Healed, the old primary is told to follow the new one.
        await Poll.UntilAsync(async () => await redis.RoleAsync(primary) == "slave", Recovery, "the old primary to become a replica", cancellationToken: TestContext.Current.CancellationToken);
        await load.WaitForMoreAsync(20, Recovery);
        await load.StopAsync();
        await AssertExactlyOnceAsync(load, $"Redis primary cut off for {Partition.TotalSeconds:F0} s: replica promoted {promotedAfter.TotalSeconds:F1} s after the cut, 40 more posts {writingAfter.TotalSeconds:F1} s after the cut, the old primary a replica once healed");
    }

    /// <summary>The silos' log lines about suspicion, votes and deaths, for a failure message.</summary>
    private static string MembershipLines(LocalSystem system) => string.Join('\n', system.Silos
        .SelectMany(s => File.ReadLines(s.Process.LogPath).Select(line => $"{s.Process.Name}: {line}"))
        .Where(line => line.Contains("suspect", StringComparison.OrdinalIgnoreCase) || line.Contains("dead", StringComparison.OrdinalIgnoreCase) || line.Contains("probe", StringComparison.OrdinalIgnoreCase))
        .TakeLast(40)
        .Select(line => line.Length > 300 ? line[..300] : line));

    private (NetworkLab Lab, LocalSystem System) Lab()
    {
        if (_cluster is null)
        {
            Assert.Skip($"no network lab here: {NetworkLab.Unavailable()}");
        }

        return (_cluster.Lab, _cluster.System);
    }

    private async Task AssertExactlyOnceAsync(PostLoad load, string what)
    {
        var ids = load.Acknowledged.ToList();
        Assert.True(ids.Count > 0, "no post was acknowledged");
        foreach (var client in Clients)
        {
            await client.WaitForAsync(ids, Recovery);
        }

        foreach (var client in Clients)
        {
            Assert.Empty(client.Violations);
            var seen = client.Ids;
            Assert.Equal(seen.Count, seen.Distinct().Count());
        }

        Figures.Record("lab", $"{what}: {ids.Count} acknowledged posts at all {Clients.Count} clients exactly once; {load.Summary()}");
    }
}
