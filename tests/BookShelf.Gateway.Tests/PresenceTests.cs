namespace BookShelf.Gateway.Tests;

/// <summary>
/// Presence through the real gateways: exact across two gateways, pushed to connections that asked (WebSocket
/// and SSE) and to nobody else, answered by the API, and a killed gateway's share dropping out within its lease.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class PresenceTests(GatewayFixture fixture)
{
    [Fact]
    public async Task CountsRiseAndFallAcrossTwoGatewaysAndTheApiAgrees()
    {
        using var api = await fixture.SignedInClientAsync();
        var postId = await api.CreatePostAsync("Read together");
        var group = $"post-{postId}";
        await using var first = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?groups={group}&presence=1"), cancellationToken: TestContext.Current.CancellationToken);
        await first.WaitForAsync(f => LastPresence(f, group) == 1, "the first reader alone");

        await using (var second = await FeedSocket.ConnectAsync(fixture.OtherGateway.WebSocketUri(), cancellationToken: TestContext.Current.CancellationToken))
        {
            await second.SendAsync($$"""{"type":"subscribe","group":"{{group}}","presence":true}""");
            await second.WaitForAsync(f => LastPresence(f, group) == 2, "the second reader, on the other gateway");
            await first.WaitForAsync(f => LastPresence(f, group) == 2, "the first reader told of the second");
            Assert.Equal(2, (await api.GetJsonAsync($"/api/posts/{postId}/presence"))!["count"]!.GetValue<int>());
        }

        await first.WaitForAsync(f => LastPresence(f, group) == 1, "the second reader gone");
        Assert.Equal(1, (await api.GetJsonAsync($"/api/posts/{postId}/presence"))!["count"]!.GetValue<int>());
        // Presence frames carry no seq: they are never replayed and never move a client's position.
        Assert.All(first.Frames.Where(f => (string?)f["type"] == "presence"), f => Assert.Null(f["seq"]));
    }

    [Fact]
    public async Task OnlyConnectionsThatAskedGetPresenceFramesButEveryConnectionCounts()
    {
        using var api = await fixture.SignedInClientAsync();
        var postId = await api.CreatePostAsync("Quiet readers");
        var group = $"post-{postId}";
        await using var quiet = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken);
        await quiet.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "subscribed");
        await using var asking = await FeedSocket.ConnectAsync(fixture.OtherGateway.WebSocketUri($"?groups={group}&presence=1"), cancellationToken: TestContext.Current.CancellationToken);
        await asking.WaitForAsync(f => LastPresence(f, group) == 2, "the quiet reader counted");

        // A marker event after the presence push: if the quiet one were sent presence frames, they would be there by now.
        await api.CommentAsync(postId, "marker");
        await quiet.WaitForEventsAsync(group, 1, "the marker comment");
        await asking.WaitForEventsAsync(group, 1, "the marker comment");
        Assert.DoesNotContain(quiet.Frames, f => (string?)f["type"] == "presence");
    }

    [Fact]
    public async Task AnSseStreamAskingForPresenceGetsItAsEventsWithoutIds()
    {
        using var api = await fixture.SignedInClientAsync();
        var postId = await api.CreatePostAsync("Streamed readers");
        await using var stream = await SseClient.OpenAsync(fixture.Gateway.BaseAddress, $"/sse/update_notice/?groups=post-{postId}&presence=1", cancellationToken: TestContext.Current.CancellationToken);
        var presence = await stream.NextMatchingAsync(d => (string?)d["type"] == "presence", "the presence event");
        Assert.Equal(1, presence.Data["count"]!.GetValue<int>());
        Assert.Null(presence.Id);
        await using var other = await FeedSocket.ConnectAsync(fixture.OtherGateway.WebSocketUri($"?groups=post-{postId}"), cancellationToken: TestContext.Current.CancellationToken);
        var two = await stream.NextMatchingAsync(d => (string?)d["type"] == "presence", "the second reader");
        Assert.Equal(2, two.Data["count"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("?groups=site&presence=yes")]
    [InlineData("?presence=2")]
    public async Task ABadPresenceParameterIsRefusedBeforeTheUpgrade(string query)
    {
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, "/ws/update_notice/" + query, cancellationToken: TestContext.Current.CancellationToken);
        Assert.StartsWith("HTTP/1.1 400", socket.UpgradeAnswer, StringComparison.Ordinal);
        Assert.Contains("application/problem+json", socket.UpgradeAnswer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PresenceOfAnUnknownPostIs404()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        using var response = await api.Http.GetAsync("/api/posts/987654321/presence", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task AKilledGatewaysReadersDropOutWithinItsLease()
    {
        using var api = await fixture.SignedInClientAsync();
        var postId = await api.CreatePostAsync("A gateway dies");
        var group = $"post-{postId}";
        var doomed = await fixture.System.StartGatewayAsync(extraArguments: ["--Gateway:Presence:Lease", "00:00:03", "--Gateway:Presence:RenewInterval", "00:00:01"]);
        await using var watcher = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?groups={group}&presence=1"), cancellationToken: TestContext.Current.CancellationToken);
        var readers = new List<FeedSocket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                readers.Add(await FeedSocket.ConnectAsync(doomed.WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken));
            }

            await watcher.WaitForAsync(f => LastPresence(f, group) == 4, "three readers on the doomed gateway and the watcher");
            await doomed.Process.KillAsync(); // SIGKILL: no goodbye
            // Lease 3 s, the grain looks every second, pushes at most once a second: well inside 15 s.
            await watcher.WaitForAsync(f => LastPresence(f, group) == 1, "the dead gateway's readers gone", TimeSpan.FromSeconds(15));
        }
        finally
        {
            foreach (var reader in readers)
            {
                await reader.DisposeAsync();
            }

            await doomed.Process.StopAsync(TimeSpan.FromSeconds(5));
        }
    }

    private static int? LastPresence(IReadOnlyList<JsonObject> frames, string group) =>
        frames.LastOrDefault(f => (string?)f["type"] == "presence" && (string?)f["group"] == group)?["count"]?.GetValue<int>();
}
