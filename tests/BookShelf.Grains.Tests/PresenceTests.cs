using BookShelf.Gateway.Presence;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BookShelf.Grains.Tests;

/// <summary>
/// Presence across gateway nodes: each node's count is reported with a lease, the group's grain sums them and
/// pushes the total to the nodes that asked, debounced; a node that stops reporting drops out within its lease.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PresenceTests(ClusterFixture fixture)
{
    [Fact]
    public async Task CountsOfTwoNodesAreSummedAndEveryChangeReachesTheWatchers()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(1_000_000, 9_000_000));
        await using var a = Tracker();
        await using var b = Tracker();
        var watcher = new PresenceRecorder();
        a.Joined(group);
        a.Joined(group);
        b.Joined(group);
        var first = await b.WatchAsync(group, watcher);
        Assert.InRange(first, 1, 3); // b's own count is in it; a's may not be reported yet
        await watcher.WaitForAsync(3, "a's two and b's one");

        a.Left(group);
        await watcher.WaitForAsync(2, "a's connection left");
        b.Left(group);
        await watcher.WaitForAsync(1, "b's connection left");
        Assert.Equal(1, await fixture.Grains.GetGrain<IPresenceGrain>(group).GetCountAsync());
    }

    [Fact]
    public async Task ANodeThatStopsReportingDropsOutWithinItsLease()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(1_000_000, 9_000_000));
        var lease = TimeSpan.FromSeconds(2);
        await using var dying = Tracker(lease);
        await using var alive = Tracker(lease);
        var watcher = new PresenceRecorder();
        dying.Joined(group);
        dying.Joined(group);
        alive.Joined(group);
        await alive.WatchAsync(group, watcher);
        await watcher.WaitForAsync(3, "both nodes' connections");

        dying.Halt(); // no goodbye: as a killed gateway
        var halted = DateTime.UtcNow;
        await watcher.WaitForAsync(1, "the dead node's share dropping out", TimeSpan.FromSeconds(15));
        // Lease plus the grain's look every second, plus scheduling: far below the 15 s it may take.
        Assert.True(DateTime.UtcNow - halted < lease + TimeSpan.FromSeconds(5), $"took {(DateTime.UtcNow - halted).TotalSeconds:F1} s");
        // The live node renews every half second: its own share does not lapse meanwhile.
        Assert.DoesNotContain(0, watcher.Counts);
    }

    [Fact]
    public async Task ABurstOfJoinsIsOnePushNotOneEach()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(1_000_000, 9_000_000));
        await using var node = Tracker();
        var watcher = new PresenceRecorder();
        node.Joined(group);
        await node.WatchAsync(group, watcher);
        for (var i = 0; i < 49; i++)
        {
            node.Joined(group);
        }

        await watcher.WaitForAsync(50, "the burst's total");
        // The 49 joins went in at most two reports, and the grain pushes at most once a second.
        Assert.True(watcher.Counts.Count <= 3, $"pushes: {string.Join(", ", watcher.Counts)}");
    }

    [Fact]
    public async Task ALateOlderReportDoesNotUndoANewerOne()
    {
        var grain = fixture.Grains.GetGrain<IPresenceGrain>(Groups.ForPost(Random.Shared.NextInt64(1_000_000, 9_000_000)));
        var node = Guid.NewGuid();
        Assert.Equal(5, await grain.ReportAsync(node, 2, 5, TimeSpan.FromSeconds(30), null));
        Assert.Equal(5, await grain.ReportAsync(node, 1, 9, TimeSpan.FromSeconds(30), null));
        Assert.Equal(7, await grain.ReportAsync(Guid.NewGuid(), 1, 2, TimeSpan.FromSeconds(30), null));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.ReportAsync(node, 3, -1, TimeSpan.FromSeconds(30), null));
        Assert.Equal(7, await grain.GetCountAsync());

        // A node that reports 0 is remembered with its version: its older report of 1, arriving late, changes nothing.
        Assert.Equal(2, await grain.ReportAsync(node, 4, 0, TimeSpan.FromSeconds(30), null));
        Assert.Equal(2, await grain.ReportAsync(node, 3, 1, TimeSpan.FromSeconds(30), null));
    }

    private PresenceTracker Tracker(TimeSpan? lease = null)
    {
        var options = new PresenceOptions { Lease = lease ?? TimeSpan.FromSeconds(10), RenewInterval = TimeSpan.FromMilliseconds(500), ReportSpacing = TimeSpan.FromMilliseconds(50) };
        var tracker = new PresenceTracker(fixture.Grains, Options.Create(options), TimeProvider.System, NullLogger<PresenceTracker>.Instance);
        tracker.Start();
        return tracker;
    }

    private sealed class PresenceRecorder : IPresenceListener
    {
        private readonly Condition _changed = new();
        private readonly List<int> _counts = [];

        public List<int> Counts
        {
            get
            {
                lock (_counts)
                {
                    return [.. _counts];
                }
            }
        }

        public void OnPresence(string group, int count)
        {
            lock (_counts)
            {
                _counts.Add(count);
            }

            _changed.Pulse();
        }

        public Task WaitForAsync(int count, string what, TimeSpan? timeout = null) =>
            _changed.WaitAsync(() => Counts is { Count: > 0 } c && c[^1] == count, $"{what} (presence {count}; pushes so far: {string.Join(", ", Counts)})", timeout ?? TimeSpan.FromSeconds(10));
    }
}
