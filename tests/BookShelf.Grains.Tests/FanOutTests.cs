namespace BookShelf.Grains.Tests;

[Collection(ClusterCollection.Name)]
public sealed class FanOutTests(ClusterFixture fixture)
{
    [Fact]
    public async Task SubscribedGatewayReceivesNewIdsInOrderWithContiguousSeq()
    {
        await using var gateway = fixture.StartGateway();
        var listener = new RecordingListener();
        await using var subscription = await gateway.SubscribeAsync(Groups.Site, null, listener, TestContext.Current.CancellationToken);

        var ids = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            ids.Add((await fixture.CreatePostAsync($"ordered {i}")).Id);
        }

        await listener.WaitForPostsAsync(ids, "the gateway");
        FeedAssert.EveryPostExactlyOnce(listener, ids, "the gateway");
        // Sequential creates: the feed order is the creation order.
        Assert.Equal(ids, listener.PostIds.Where(ids.Contains));
        Assert.All(listener.Events, e => Assert.Equal(Groups.Site, e.Group));
    }

    [Fact]
    public async Task GatewayNotSubscribedToAGroupReceivesNothingOfIt()
    {
        var watched = await fixture.CreatePostAsync("watched");
        var other = await fixture.CreatePostAsync("other");
        await using var gateway = fixture.StartGateway();
        var watching = new RecordingListener();
        await using var subscription = await gateway.SubscribeAsync(Groups.ForPost(watched.Id), null, watching, TestContext.Current.CancellationToken);
        await using var bystanderGateway = fixture.StartGateway();
        var bystander = new RecordingListener();
        await using var bystanderSubscription = await bystanderGateway.SubscribeAsync(Groups.ForPost(other.Id), null, bystander, TestContext.Current.CancellationToken);

        await fixture.CreatePostAsync("not for post groups");
        await fixture.Grains.GetGrain<IPostGrain>(watched.Id).AddCommentAsync("bob", "first!");
        await fixture.Grains.GetGrain<IPostGrain>(watched.Id).ToggleLikeAsync("bob");

        await watching.WaitForAsync(e => e.Count == 2, "the comment and the like on the watched post");
        Assert.Equal([FeedEventKind.CommentAdded, FeedEventKind.LikeChanged], watching.Events.Select(e => e.Kind));
        Assert.Equal("first!", watching.Events[0].Text);
        Assert.Equal(1, watching.Events[1].LikeCount);
        FeedAssert.ContiguousInOrder(watching.Events, afterSeq: 0);

        // A marker event on the bystander's own group proves its pushes flow; nothing else may precede it.
        await fixture.Grains.GetGrain<IPostGrain>(other.Id).AddCommentAsync("carol", "marker");
        await bystander.WaitForAsync(e => e.Count >= 1, "the bystander's own marker comment");
        Assert.Equal(["marker"], bystander.Events.Select(e => e.Text));
        Assert.All(bystander.Events, e => Assert.Equal(Groups.ForPost(other.Id), e.Group));
    }

    [Fact]
    public async Task ThousandPostsFromTenWritersReachThreeGatewaysExactlyOnceInOrder()
    {
        var listeners = new[] { new RecordingListener(), new RecordingListener(), new RecordingListener() };
        var gateways = new List<GatewayFeed>();
        var subscriptions = new List<IAsyncDisposable>();
        foreach (var listener in listeners)
        {
            var gateway = fixture.StartGateway();
            gateways.Add(gateway);
            subscriptions.Add(await gateway.SubscribeAsync(Groups.Site, null, listener, TestContext.Current.CancellationToken));
        }

        var ids = await Task.WhenAll(Enumerable.Range(0, 10).Select(async writer =>
        {
            var mine = new List<long>();
            for (var i = 0; i < 100; i++)
            {
                mine.Add((await fixture.CreatePostAsync($"writer {writer} post {i}", $"writer{writer}")).Id);
            }

            return mine;
        }));
        var all = ids.SelectMany(i => i).ToList();
        Assert.Equal(1000, all.Distinct().Count());

        for (var g = 0; g < listeners.Length; g++)
        {
            await listeners[g].WaitForPostsAsync(all, $"gateway {g}", TimeSpan.FromSeconds(60));
            FeedAssert.EveryPostExactlyOnce(listeners[g], all, $"gateway {g}");
        }

        // Every gateway saw the same order: the feed's.
        Assert.Equal(listeners[0].Events.Select(e => e.Key), listeners[1].Events.Select(e => e.Key));
        Assert.Equal(listeners[0].Events.Select(e => e.Key), listeners[2].Events.Select(e => e.Key));
        foreach (var s in subscriptions)
        {
            await s.DisposeAsync();
        }

        foreach (var g in gateways)
        {
            await g.DisposeAsync();
        }
    }

    [Fact]
    public async Task GatewayThatStopsRenewingIsDroppedWhileOthersKeepReceiving()
    {
        var post = await fixture.CreatePostAsync("lease");
        var group = Groups.ForPost(post.Id);
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        await using var stale = fixture.StartGateway();
        await using var healthy = fixture.StartGateway();
        var staleListener = new RecordingListener();
        var healthyListener = new RecordingListener();
        await using var s1 = await stale.SubscribeAsync(group, null, staleListener, TestContext.Current.CancellationToken);
        await using var s2 = await healthy.SubscribeAsync(group, null, healthyListener, TestContext.Current.CancellationToken);
        Assert.Equal(2, (await fixture.Grains.GetGrain<IUpdaterGrain>(group).GetStatsAsync()).Subscribers);

        stale.PauseRenewals();
        // Until the stale lease lapses both receive; the healthy one gets each comment while we wait.
        var sent = 0;
        var deadline = DateTime.UtcNow + (fixture.LeaseDuration * 5);
        while ((await fixture.Grains.GetGrain<IUpdaterGrain>(group).GetStatsAsync()).Subscribers != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out waiting for the stale gateway's lease to expire.");
            // Likes, not comments: a post's comments are capped, and this loop runs until the lease lapses.
            await grain.ToggleLikeAsync("bob");
            ++sent;
            var expected = sent;
            await healthyListener.WaitForAsync(e => e.Count >= expected, $"the healthy gateway to get comment {expected}", TimeSpan.FromSeconds(5));
        }

        var staleCount = staleListener.Events.Count;
        for (var i = 0; i < 5; i++)
        {
            await grain.AddCommentAsync("bob", $"after expiry {i}");
        }

        await healthyListener.WaitForAsync(e => e.Count(x => x.Text?.StartsWith("after expiry", StringComparison.Ordinal) == true) == 5, "the healthy gateway to get the five comments after expiry", TimeSpan.FromSeconds(5));
        FeedAssert.ContiguousInOrder(healthyListener.Events, afterSeq: 0);
        Assert.Equal(staleCount, staleListener.Events.Count);
        Assert.DoesNotContain(staleListener.Events, e => e.Text?.StartsWith("after expiry", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task AGatewayThatFellFurtherBehindThanTheReplayLimitCatchesUpWithoutResettingItsListeners()
    {
        // A gateway whose connections were live all along must never reset them because the gateway itself lagged
        // (a slow read under load, a lapsed lease): the replay limit is for clients resuming from long ago. Before,
        // a full test run on 2 cores saw 1,000 fast posts reset a gateway's listeners at seq 113 (replay limit 100).
        var post = await fixture.CreatePostAsync("behind");
        var group = Groups.ForPost(post.Id);
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        await using var lagging = fixture.StartGateway();
        var listener = new RecordingListener();
        await using var subscription = await lagging.SubscribeAsync(group, null, listener, TestContext.Current.CancellationToken);
        lagging.PauseRenewals();
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(group);
        await Poll.UntilAsync(async () => (await updater.GetStatsAsync()).Subscribers == 0, fixture.LeaseDuration * 5, "the lagging gateway's lease to lapse", cancellationToken: TestContext.Current.CancellationToken);

        var missed = fixture.MaxReplay + 20;
        for (var i = 0; i < missed; i++)
        {
            await grain.ToggleLikeAsync($"reader{i}");
        }

        Assert.Empty(listener.Events);
        lagging.ResumeRenewals();
        await lagging.RenewAllAsync(TestContext.Current.CancellationToken);
        await listener.WaitForAsync(e => e.Count == missed, $"all {missed} missed events");
        Assert.Empty(listener.Resets);
        FeedAssert.ContiguousInOrder(listener.Events, afterSeq: 0);
    }

    [Fact]
    public async Task CatchUpReturnsExactlyTheMissingEvents()
    {
        var post = await fixture.CreatePostAsync("catch-up");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(post.Id));
        for (var i = 1; i <= 40; i++)
        {
            await grain.AddCommentAsync("bob", $"comment {i}");
        }

        // Spans sealed pages (16 events each) and the unsealed tail.
        var read = await updater.ReadAsync(afterSeq: 7, max: 100);
        Assert.False(read.Reset);
        Assert.Equal(40, read.LastSeq);
        Assert.Equal(Enumerable.Range(8, 33).Select(i => (long)i), read.Events.Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(8, 33).Select(i => $"comment {i}"), read.Events.Select(e => e.Text));

        var limited = await updater.ReadAsync(afterSeq: 30, max: 4);
        Assert.Equal([31L, 32, 33, 34], limited.Events.Select(e => e.Seq));
        Assert.Empty((await updater.ReadAsync(afterSeq: 40, max: 10)).Events);

        // A gateway resuming a listener from seq 35 gets 36..40, then live events.
        await using var gateway = fixture.StartGateway();
        var listener = new RecordingListener();
        await using var subscription = await gateway.SubscribeAsync(Groups.ForPost(post.Id), 35, listener, TestContext.Current.CancellationToken);
        await grain.AddCommentAsync("bob", "comment 41");
        await listener.WaitForAsync(e => e.Count == 6, "replay of 36..40 then live 41");
        FeedAssert.ContiguousInOrder(listener.Events, afterSeq: 35);
    }

    [Fact]
    public async Task ReadBeyondTheReplayLimitSaysReset()
    {
        var post = await fixture.CreatePostAsync("long thread");
        var grain = fixture.Grains.GetGrain<IPostGrain>(post.Id);
        for (var i = 1; i <= fixture.MaxReplay + 5; i++)
        {
            await grain.ToggleLikeAsync("bob");
        }

        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(Groups.ForPost(post.Id));
        var tooFar = await updater.ReadAsync(afterSeq: 2, max: 10);
        Assert.True(tooFar.Reset);
        Assert.Empty(tooFar.Events);
        Assert.Equal(fixture.MaxReplay + 5, tooFar.LastSeq);
        Assert.False((await updater.ReadAsync(afterSeq: 5, max: 10)).Reset);

        await using var gateway = fixture.StartGateway();
        var listener = new RecordingListener();
        await using var subscription = await gateway.SubscribeAsync(Groups.ForPost(post.Id), 1, listener, TestContext.Current.CancellationToken);
        Assert.Equal([(Groups.ForPost(post.Id), (long)fixture.MaxReplay + 5)], listener.Resets);
        Assert.Empty(listener.Events);
    }

    [Fact]
    public async Task AppendStaysIdempotentAfterTheFeedIsReactivated()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(6_000_000_000, 7_000_000_000));
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(group);
        FeedEvent Like(int n) => new(0, group, FeedEventKind.LikeChanged, $"like:reactivated:{n}", 1, null, "bob", null, 0, n, DateTimeOffset.UtcNow);
        for (var n = 1; n <= 40; n++)
        {
            Assert.Equal(n, await updater.AppendAsync(Like(n)));
        }

        // A lease lives in the activation's memory only: it tells a new activation from the old one.
        var gateway = fixture.StartGateway(renewEvery: TimeSpan.FromMinutes(10));
        await using (await gateway.SubscribeAsync(group, null, new RecordingListener(), TestContext.Current.CancellationToken))
        {
            Assert.Equal(1, (await updater.GetStatsAsync()).Subscribers);
            await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);
            Assert.Equal(0, (await updater.GetStatsAsync()).Subscribers);

            // Keys from sealed pages (page size 16) and from the tail are still known: no event is appended twice.
            Assert.Equal(3, await updater.AppendAsync(Like(3)));
            Assert.Equal(39, await updater.AppendAsync(Like(39)));
            Assert.Equal(40, (await updater.GetStatsAsync()).LastSeq);
            Assert.Equal(41, await updater.AppendAsync(Like(41)));
        }
    }

    [Fact]
    public async Task AppendIsIdempotentByEventKey()
    {
        var group = Groups.ForPost(Random.Shared.NextInt64(5_000_000_000, 6_000_000_000));
        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(group);
        var e = new FeedEvent(0, group, FeedEventKind.LikeChanged, "like:test:1", 1, null, "bob", null, 0, 1, DateTimeOffset.UtcNow);
        var first = await updater.AppendAsync(e);
        var second = await updater.AppendAsync(e);
        Assert.Equal(first, second);
        Assert.Equal(first, (await updater.GetStatsAsync()).LastSeq);
    }

    [Fact]
    public async Task EventPublishedOnlyOnThePostStreamReachesItsFeedOnce()
    {
        // The stream is the second path of every event (the confirmation is the first); this proves it still
        // delivers on its own with the production queue count and polling period.
        var group = Groups.ForPost(Random.Shared.NextInt64(6_000_000_000, 7_000_000_000));
        await using var gateway = fixture.StartGateway();
        var listener = new RecordingListener();
        await using var subscription = await gateway.SubscribeAsync(group, null, listener, TestContext.Current.CancellationToken);
        var stream = fixture.Cluster.Client.GetStreamProvider(StorageNames.StreamProvider)
            .GetStream<FeedEvent>(Orleans.Runtime.StreamId.Create(StorageNames.StreamNamespace, group));
        var e = new FeedEvent(0, group, FeedEventKind.CommentAdded, "comment:stream-only:1", 1, null, "bob", "by stream", 1, 0, DateTimeOffset.UtcNow);

        await stream.OnNextAsync(e);
        await stream.OnNextAsync(e);
        // Events of one stream are delivered in order: once the marker is in, the duplicate has been handled.
        await stream.OnNextAsync(e with { Key = "comment:stream-only:2", Text = "marker", CommentId = 2 });

        await listener.WaitForAsync(events => events.Any(x => x.Text == "marker"), "the events published on the stream");
        Assert.Equal(["by stream", "marker"], listener.Events.Select(x => x.Text));
        FeedAssert.ContiguousInOrder(listener.Events, afterSeq: 0);
        Assert.Equal(2, (await fixture.Grains.GetGrain<IUpdaterGrain>(group).GetStatsAsync()).LastSeq);
    }

    [Fact]
    public async Task EventsPublishedAsOneStreamBatchReachTheFeedInOrder()
    {
        // A busy post publishes a batch of its fresh events as one stream message: each still reaches the feed, in order.
        var postId = Random.Shared.NextInt64(7_000_000_000, 8_000_000_000);
        var group = Groups.ForPost(postId);
        var stream = fixture.Cluster.Client.GetStreamProvider(StorageNames.StreamProvider)
            .GetStream<FeedEvent>(Orleans.Runtime.StreamId.Create(StorageNames.StreamNamespace, group));
        FeedEvent[] batch = [.. Enumerable.Range(1, 5).Select(i => FeedEvent.CommentAdded(postId, i, "bob", $"batched {i}", 0, DateTimeOffset.UtcNow))];

        await stream.OnNextBatchAsync(batch);

        var updater = fixture.Grains.GetGrain<IUpdaterGrain>(group);
        await Poll.UntilAsync(async () => (await updater.GetStatsAsync()).LastSeq == 5, TimeSpan.FromSeconds(30), "the batch to reach the feed", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(batch.Select(e => e.Key), (await updater.ReadAsync(0, 10)).Events.Select(e => e.Key));
    }
}
