using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BookShelf.Grains.Tests;

/// <summary>
/// <c>Feed:PageSize</c> changed while feeds are stored (an operator's edit, or silos of a rolling change that disagree):
/// a feed keeps the size its first write recorded, so every event stays readable in order (a page may be stored
/// before its head lets go of it); only a new feed takes the new size.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FeedPageSizeTests(ClusterFixture fixture)
{
    [Fact]
    public async Task AFeedKeepsItsPageSizeWhenTheSettingChanges()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(8_000_000_000, 9_000_000_000));
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(group);
        FeedEvent Like(int n) => new(0, group, FeedEventKind.LikeChanged, $"like:page-size:{n}", 1, null, "bob", null, 0, n, DateTimeOffset.UtcNow);
        var ct = TestContext.Current.CancellationToken;

        // 40 events with the fixture's page size (16): two sealed pages and a tail of 8.
        for (var n = 1; n <= 40; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Like(n)));
        }

        var configured = SetPageSize(8);
        try
        {
            await fixture.DeactivateAsync(updater, ct);

            // Read back across the old pages: every event, in order, each where it was.
            AssertLikes(await updater.ReadAsync(0, 100), 1, 40);
            AssertLikes(await updater.ReadAsync(20, 100), 21, 40);

            // Appends go on sealing at 16: the third page seals at 48, and everything reads back.
            for (var n = 41; n <= 60; n++)
            {
                Assert.Equal(n, await updater.AppendAsync(Like(n)));
            }

            AssertLikes(await updater.ReadAsync(0, 100), 1, 60);
            await fixture.DeactivateAsync(updater, ct);
            AssertLikes(await updater.ReadAsync(33, 100), 34, 60);

            // Idempotency holds across the old pages: a repeat of an event in a sealed page is that event.
            Assert.Equal(5, await updater.AppendAsync(Like(5)));
            Assert.Equal(47, await updater.AppendAsync(Like(47)));
            Assert.Equal(60, (await updater.GetStatsAsync()).LastSeq);

            // A new feed takes the new size, and reads back across its pages too.
            var fresh = Groups.ForPost(Random.Shared.NextInt64(8_000_000_000, 9_000_000_000));
            var freshUpdater = fixture.Grains.GetGrain<IUpdaterGrain>(fresh);
            for (var n = 1; n <= 20; n++)
            {
                await freshUpdater.AppendAsync(new FeedEvent(0, fresh, FeedEventKind.LikeChanged, $"like:page-size:{n}", 1, null, "bob", null, 0, n, DateTimeOffset.UtcNow));
            }

            SetPageSize(configured);
            await fixture.DeactivateAsync(freshUpdater, ct);
            AssertLikes(await freshUpdater.ReadAsync(0, 100), 1, 20);
        }
        finally
        {
            SetPageSize(configured);
        }
    }

    [Fact]
    public async Task APageStoredBeforeItsHeadLetGoOfItKeepsItsSizeWhenTheSettingChanges()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(8_000_000_000, 9_000_000_000));
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(group);
        var ct = TestContext.Current.CancellationToken;
        var indexWrite = fixture.HoldNextWrite("index", fixture.Grains.GetGrain<IFeedIndexGrain>($"{group}|like:page-size/0").GetGrainId());
        for (var n = 1; n <= 16; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Like(group, n)));
        }

        // Page 0 (16 events) is stored, but the head write that would let go of it fails: the activation goes, and
        // the head still holds the 16 events, with no sealed page.
        var failed = fixture.FailNextWrite("feed", updater.GetGrainId());
        indexWrite.Release();
        await failed.WaitAsync(TimeSpan.FromSeconds(10), ct);

        // The setting changes before the next activation: it must seal page 0 at the size its head recorded.
        var configured = SetPageSize(8);
        try
        {
            await Poll.UntilAsync(async () => (await updater.GetStatsAsync()).LastSeq == 16 && StoredHead(updater).SealedPages == 1, TimeSpan.FromSeconds(10), $"{group}'s page 0 to be sealed by its next activation", cancellationToken: ct);
            Assert.Equal(16, StoredHead(updater).PageSize);
            AssertLikes(await updater.ReadAsync(0, 100), 1, 16);
            Assert.Equal(17, await updater.AppendAsync(Like(group, 17)));
            Assert.Equal(4, await updater.AppendAsync(Like(group, 4)));
        }
        finally
        {
            SetPageSize(configured);
        }
    }

    private static FeedEvent Like(string group, int n) => new(0, group, FeedEventKind.LikeChanged, $"like:page-size:{n}", 1, null, "bob", null, 0, n, DateTimeOffset.UtcNow);

    private Feed.FeedState StoredHead(IUpdaterGrain updater) => fixture.StoredHead(updater);

    private static void AssertLikes(FeedRead read, int first, int last)
    {
        Assert.False(read.Reset);
        Assert.Equal(Enumerable.Range(first, last - first + 1).Select(n => (long)n), read.Events.Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(first, last - first + 1).Select(n => $"like:page-size:{n}"), read.Events.Select(e => e.Key));
    }

    /// <summary>Sets every silo's <c>Feed:PageSize</c> (seen by activations made from now on); returns the old value.</summary>
    private int SetPageSize(int size)
    {
        var old = 0;
        foreach (var silo in fixture.Cluster.Silos)
        {
            var options = silo.ServiceProvider.GetRequiredService<IOptions<FeedOptions>>().Value;
            old = options.PageSize;
            options.PageSize = size;
        }

        return old;
    }
}
