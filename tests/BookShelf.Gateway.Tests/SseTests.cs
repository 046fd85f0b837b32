namespace BookShelf.Gateway.Tests;

/// <summary>
/// The Server-Sent Events fallback, over real HTTP against the real gateways: the same frames as the WebSocket,
/// resumed through <c>Last-Event-ID</c> (the browser's own reconnect) without a gap or a repeat, on either gateway,
/// and refusing what the WebSocket refuses.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class SseTests(GatewayFixture fixture)
{
    [Fact]
    public async Task AStreamGetsNewPostsWithTheWebSocketsJsonAndItsPositionAsTheId()
    {
        using var api = await fixture.SignedInClientAsync();
        await using var stream = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, "/sse/update_notice/?groups=site", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, stream.Status);
        Assert.Equal("text/event-stream", stream.ContentType);
        var subscribed = await stream.NextMatchingAsync(d => (string?)d["type"] == "subscribed", "subscribed");
        var lastSeq = subscribed.Data["last_seq"]!.GetValue<long>();
        Assert.Equal($"site:{lastSeq}", subscribed.Id);

        var id = await api.CreatePostAsync("Streamed");
        var post = await stream.NextMatchingAsync(d => (string?)d["type"] == "post" && d["new_id"]!.GetValue<long>() == id, $"post {id}");
        var seq = post.Data["seq"]!.GetValue<long>();
        Assert.True(seq > lastSeq);
        Assert.Equal("site", (string?)post.Data["group"]);
        Assert.Equal("Streamed", (string?)post.Data["title"]);
        Assert.Equal($"site:{seq}", post.Id);
    }

    [Fact]
    public async Task LastEventIdResumesEveryGroupWithoutAGapOrARepeatOnTheOtherGateway()
    {
        using var api = await fixture.SignedInClientAsync();
        var postId = await api.CreatePostAsync("Resumed over SSE");
        var group = $"post-{postId}";
        string position;
        var seen = new List<long>();
        await using (var first = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, $"/sse/update_notice/?groups={group}", cancellationToken: TestContext.Current.CancellationToken))
        {
            await first.NextMatchingAsync(d => (string?)d["type"] == "subscribed", "subscribed");
            var c1 = await api.CommentAsync(postId, "one");
            var e1 = await first.NextMatchingAsync(d => (string?)d["type"] == "comment", "the first comment");
            Assert.Equal(c1, e1.Data["comment_id"]!.GetValue<long>());
            seen.Add(e1.Data["seq"]!.GetValue<long>());
            position = first.LastEventId!;
        }

        Assert.Equal($"{group}:{seen[0]}", position);
        // Missed while away: two comments and a like.
        var missed = new[] { await api.CommentAsync(postId, "two"), await api.CommentAsync(postId, "three") };
        await api.ToggleLikeAsync(postId);

        // The URL still says groups=post-N only; the browser adds Last-Event-ID. The other gateway serves it.
        await using var second = await SseClient.OpenAsync(fixture.OtherGateway.BaseAddress, $"/sse/update_notice/?groups={group}", lastEventId: position, cancellationToken: TestContext.Current.CancellationToken);
        var replayed = new List<JsonObject>();
        while (true)
        {
            var next = (await second.NextAsync())!.Value;
            if ((string?)next.Data["type"] == "subscribed")
            {
                Assert.Equal(next.Data["last_seq"]!.GetValue<long>(), replayed[^1]["seq"]!.GetValue<long>());
                break;
            }

            replayed.Add(next.Data);
            Assert.Equal($"{group}:{next.Data["seq"]}", next.Id);
        }

        Assert.Equal([seen[0] + 1, seen[0] + 2, seen[0] + 3], replayed.Select(e => e["seq"]!.GetValue<long>()));
        Assert.Equal(missed, replayed.Take(2).Select(e => e["comment_id"]!.GetValue<long>()));
        Assert.Equal("like", (string?)replayed[2]["type"]);
    }

    [Fact]
    public async Task ThePositionCoversEveryGroupOfTheStream()
    {
        using var api = await fixture.SignedInClientAsync();
        var postId = await api.CreatePostAsync("Two groups");
        await using var stream = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, $"/sse/update_notice/?groups=site,post-{postId}", cancellationToken: TestContext.Current.CancellationToken);
        var site = await stream.NextMatchingAsync(d => (string?)d["type"] == "subscribed" && (string?)d["group"] == "site", "site subscribed");
        await stream.NextMatchingAsync(d => (string?)d["type"] == "subscribed" && (string?)d["group"] == $"post-{postId}", "post subscribed");
        var commentId = await api.CommentAsync(postId, "hello");
        var comment = await stream.NextMatchingAsync(d => (string?)d["type"] == "comment", "the comment");
        var parts = comment.Id!.Split(',').ToDictionary(p => p[..p.LastIndexOf(':')], p => long.Parse(p[(p.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(commentId, comment.Data["comment_id"]!.GetValue<long>());
        Assert.Equal(comment.Data["seq"]!.GetValue<long>(), parts[$"post-{postId}"]);
        Assert.True(parts["site"] >= site.Data["last_seq"]!.GetValue<long>());
    }

    [Fact]
    public async Task ALastEventIdNamingOnlySomeGroupsKeepsTheUrlsResumeForTheOthers()
    {
        // A post page's stream: the URL resumes the post from what the page showed; the first id the stream sent
        // may have named only the site group. Before, the header replaced the URL's resume and the post was joined
        // fresh: the comments in between were never sent.
        using var api = await fixture.SignedInClientAsync();
        var postId = await api.CreatePostAsync("Partly resumed");
        for (var i = 0; i < 5; i++)
        {
            await api.CommentAsync(postId, $"comment {i}");
        }

        long siteSeq;
        await using (var probe = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, "/sse/update_notice/?groups=site", cancellationToken: TestContext.Current.CancellationToken))
        {
            siteSeq = (await probe.NextMatchingAsync(d => (string?)d["type"] == "subscribed", "site subscribed")).Data["last_seq"]!.GetValue<long>();
        }

        await using var stream = await SseClient.OpenAsync(fixture.OtherGateway.BaseAddress, $"/sse/update_notice/?groups=site&resume=post-{postId}:3", lastEventId: $"site:{siteSeq}", cancellationToken: TestContext.Current.CancellationToken);
        var four = await stream.NextMatchingAsync(d => (string?)d["group"] == $"post-{postId}" && (string?)d["type"] == "comment", "the post's replay");
        Assert.Equal(4, four.Data["seq"]!.GetValue<long>());
        Assert.Contains($"post-{postId}:4", four.Id!, StringComparison.Ordinal);
        var five = await stream.NextMatchingAsync(d => (string?)d["group"] == $"post-{postId}" && (string?)d["type"] == "comment", "the post's replay");
        Assert.Equal(5, five.Data["seq"]!.GetValue<long>());
    }

    [Fact]
    public async Task AnotherSitesEmbedWithoutAnOriginIsRefused()
    {
        // <img src=".../sse/update_notice/?groups=post-7"> on another site: a browser sends no Origin for it, but
        // says Sec-Fetch-Site: cross-site. Its visitors must not count as readers.
        using var http = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
        using var embedded = new HttpRequestMessage(HttpMethod.Get, "/sse/update_notice/?groups=site");
        embedded.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var refused = await http.SendAsync(embedded, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        using var own = new HttpRequestMessage(HttpMethod.Get, "/sse/update_notice/?groups=site");
        own.Headers.Add("Sec-Fetch-Site", "same-origin");
        using var allowed = await http.SendAsync(own, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Theory]
    [InlineData("/sse/update_notice/?groups=nope", null, "not a group")]
    [InlineData("/sse/update_notice/?resume=site:x", null, "resume")]
    [InlineData("/sse/update_notice/?groups=site", "garbage", "Last-Event-ID")]
    [InlineData("/sse/update_notice/?groups=site,post-1,post-2,post-3,post-4", null, "At most")]
    public async Task BadParametersGet400AndNoStream(string path, string? lastEventId, string detail)
    {
        await using var stream = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, path, lastEventId, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, stream.Status);
        Assert.Contains(detail, await stream.BodyAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherSitesPageIsRefusedAndTheGatewaysOwnIsNot()
    {
        await using (var foreign = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, "/sse/update_notice/", origin: "http://evil.example", cancellationToken: TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Forbidden, foreign.Status);
        }

        await using var own = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, "/sse/update_notice/", origin: fixture.Gateway.BaseAddress.GetLeftPart(UriPartial.Authority), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, own.Status);
        await own.NextMatchingAsync(d => (string?)d["type"] == "subscribed", "subscribed");
    }

    [Fact]
    public async Task AnUnknownPostGetsAnErrorEventAndTheOtherGroupsStay()
    {
        using var api = await fixture.SignedInClientAsync();
        await using var stream = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, "/sse/update_notice/?groups=site,post-987654321", cancellationToken: TestContext.Current.CancellationToken);
        // The groups are joined in the order named: site's subscribed, then the unknown post's error (no id: it moves no position).
        var subscribed = await stream.NextAsync();
        Assert.Equal(("subscribed", "site"), ((string?)subscribed!.Value.Data["type"], (string?)subscribed.Value.Data["group"]));
        var error = await stream.NextAsync();
        Assert.Equal(("error", "unknown_group", "post-987654321"), ((string?)error!.Value.Data["type"], (string?)error.Value.Data["code"], (string?)error.Value.Data["group"]));
        Assert.Null(error.Value.Id);
        var id = await api.CreatePostAsync("Still streaming");
        await stream.NextMatchingAsync(d => (string?)d["type"] == "post" && d["new_id"]!.GetValue<long>() == id, "the new post");
    }
}

/// <summary>
/// The SSE stream's limits on a gateway of their own (tiny backlog and buffers, a fast heartbeat, three connections
/// per address): a quiet stream gets heartbeat comments; a stream that stops reading is ended, and resuming from
/// the last event it got loses and repeats nothing; the connection caps count SSE streams.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class SseLimitsTests(GatewayFixture fixture) : IAsyncLifetime
{
    private GatewayNode _gateway = null!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync() => _gateway = await fixture.System.StartGatewayAsync(extraArguments:
    [
        "--Gateway:SendQueueLimit", "4", "--Gateway:PingInterval", "00:00:00.300", "--Gateway:MaxConnectionsPerAddress", "3",
        "--Gateway:SocketSendBufferBytes", "4096", "--Kestrel:Limits:MaxResponseBufferSize", "4096",
    ]);

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _gateway.Process.StopAsync(TimeSpan.FromSeconds(10));

    [Fact]
    public async Task AQuietStreamGetsHeartbeatComments()
    {
        await using var stream = await SseClient.OpenAsync(_gateway.BaseAddress, "/sse/update_notice/?groups=site", cancellationToken: TestContext.Current.CancellationToken, from: IPAddress.Parse("127.0.0.81"));
        await stream.NextMatchingAsync(d => (string?)d["type"] == "subscribed", "subscribed");
        // Other tests' posts may arrive on the site group meanwhile: wait for the comments either way.
        await Poll.UntilAsync(async () =>
        {
            try
            {
                await stream.NextAsync(TimeSpan.FromMilliseconds(500));
            }
            catch (TimeoutException)
            {
            }

            return stream.Comments >= 2;
        }, TimeSpan.FromSeconds(10), "two heartbeat comments", cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task AStreamThatStopsReadingIsEndedAndResumesWithoutAGapOrARepeat()
    {
        using var writer = await fixture.SignedInClientAsync();
        using var second = await fixture.SignedInClientAsync();
        var postId = await writer.CreatePostAsync("Too much to read");
        var group = $"post-{postId}";
        var from = IPAddress.Parse("127.0.0.82");
        var text = new string('x', 1_900);
        var comments = new List<long>();
        string? position;
        var seen = new List<long>();
        await using (var slow = await SseClient.OpenAsync(_gateway.BaseAddress, $"/sse/update_notice/?groups={group}", cancellationToken: TestContext.Current.CancellationToken, from: from, receiveBufferBytes: 4096))
        {
            // The response starts once the stream is in its group. Nothing reads it (the client parses lines only from
            // its first NextAsync on) while 60 comments of 1.9 KB each arrive: far more than 4 events plus the small buffers.
            for (var i = 0; i < 30; i++)
            {
                comments.Add(await writer.CommentAsync(postId, $"{i} {text}"));
                comments.Add(await second.CommentAsync(postId, $"{i}b {text}"));
            }

            Assert.True(await slow.EndedAsync(TimeSpan.FromSeconds(30)), "the gateway did not end the stream of a client that stopped reading");
            position = slow.LastEventId;
        }

        // EndedAsync read what had reached the client: collect it again from the position, by resuming.
        Assert.NotNull(position);
        var resumedFrom = long.Parse(position![(position.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(resumedFrom < comments.Count, $"the stream had everything ({position}) before it was ended");
        await using var resumed = await SseClient.OpenAsync(_gateway.BaseAddress, $"/sse/update_notice/?groups={group}", lastEventId: position, cancellationToken: TestContext.Current.CancellationToken, from: from);
        while (true)
        {
            var next = (await resumed.NextAsync())!.Value;
            if ((string?)next.Data["type"] == "subscribed")
            {
                break;
            }

            seen.Add(next.Data["seq"]!.GetValue<long>());
        }

        // Seqs 1..60 are the comments: the resumed stream has exactly those after the position, in order.
        Assert.Equal(Enumerable.Range((int)resumedFrom + 1, comments.Count - (int)resumedFrom).Select(i => (long)i), seen);
    }

    [Fact]
    public async Task AStreamIsEndedAtItsMaxAgeAndResumesWithNothingLost()
    {
        var shortLived = await fixture.System.StartGatewayAsync(extraArguments: ["--Gateway:SseMaxAge", "00:00:05"]);
        try
        {
            using var api = await fixture.SignedInClientAsync();
            var postId = await api.CreatePostAsync("Aging stream");
            await using var stream = await SseClient.OpenAsync(shortLived.BaseAddress, $"/sse/update_notice/?groups=post-{postId}", cancellationToken: TestContext.Current.CancellationToken);
            await stream.NextMatchingAsync(d => (string?)d["type"] == "subscribed", "subscribed");
            var first = await api.CommentAsync(postId, "before the end");
            await stream.NextMatchingAsync(d => d["comment_id"]?.GetValue<long>() == first, "the first comment");
            Assert.True(await stream.EndedAsync(TimeSpan.FromSeconds(15)), "the stream outlived Gateway:SseMaxAge");
            var second = await api.CommentAsync(postId, "after the end");
            await using var resumed = await SseClient.OpenAsync(shortLived.BaseAddress, $"/sse/update_notice/?groups=post-{postId}", lastEventId: stream.LastEventId, cancellationToken: TestContext.Current.CancellationToken);
            var next = await resumed.NextAsync();
            Assert.Equal(second, next!.Value.Data["comment_id"]!.GetValue<long>());
        }
        finally
        {
            await shortLived.Process.StopAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task SseStreamsCountTowardTheConnectionCapsPerAddress()
    {
        var from = IPAddress.Parse("127.0.0.83");
        var open = new List<SseClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var stream = await SseClient.OpenAsync(_gateway.BaseAddress, "/sse/update_notice/?groups=site", cancellationToken: TestContext.Current.CancellationToken, from: from);
                open.Add(stream);
                Assert.Equal(HttpStatusCode.OK, stream.Status);
            }

            await using var fourth = await SseClient.OpenAsync(_gateway.BaseAddress, "/sse/update_notice/?groups=site", cancellationToken: TestContext.Current.CancellationToken, from: from);
            Assert.Equal(HttpStatusCode.TooManyRequests, fourth.Status);
        }
        finally
        {
            foreach (var stream in open)
            {
                await stream.DisposeAsync();
            }
        }
    }
}
