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
