using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace BookShelf.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class WebSocketTests(GatewayFixture fixture)
{
    private static long Seq(JsonObject frame) => frame["seq"]!.GetValue<long>();

    [Fact]
    public async Task BareConnectionGetsTheSeedCompatibleFrame()
    {
        using var api = await fixture.SignedInClientAsync();
        // The upgrade completes only once the connection is in the site group: no other signal is needed.
        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri(), cancellationToken: TestContext.Current.CancellationToken);

        var id = await api.CreatePostAsync("Seed compatible");
        var next = await api.CreatePostAsync("Seed compatible, again");

        await socket.WaitForAsync(f => f.Any(x => x["new_id"]?.GetValue<long>() == next), $"new_id {next}");
        // The original client reads JSON.parse(e.data).new_id from every frame: it gets nothing but post frames.
        Assert.All(socket.Frames, x => Assert.Equal(System.Text.Json.JsonValueKind.Number, x["new_id"]?.GetValueKind()));
        Assert.Equal([id, next], socket.Frames.Select(x => x["new_id"]!.GetValue<long>()).Where(x => x == id || x == next));
        var frame = socket.Frames.Single(x => x["new_id"]?.GetValue<long>() == id);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, frame["new_id"]!.GetValueKind());
        Assert.Equal("site", (string?)frame["group"]);
        Assert.Equal("post", (string?)frame["type"]);
        Assert.True(Seq(frame) > 0);
    }

    [Fact]
    public async Task TrailingSlashIsOptional()
    {
        await using var socket = await FeedSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{fixture.Gateway.HttpPort}/ws/update_notice?groups=site"), cancellationToken: TestContext.Current.CancellationToken);
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed" && (string?)x["group"] == "site"), "the site subscription without the trailing slash");
    }

    [Fact]
    public async Task SubscribeAndUnsubscribeToAPostGroup()
    {
        using var api = await fixture.SignedInClientAsync();
        var post = await api.CreatePostAsync("Subscribe me");
        var group = $"post-{post}";
        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri(), cancellationToken: TestContext.Current.CancellationToken);
        await using var witness = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken);
        await witness.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "the witness subscription");

        await socket.SendAsync($$"""{"type":"subscribe","group":"{{group}}"}""");
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed" && (string?)x["group"] == group), "subscribed ack");
        var commentId = await api.CommentAsync(post, "hello group");
        await socket.WaitForEventsAsync(group, 1, "the comment");
        var comment = socket.Events(group)[0];
        Assert.Equal("comment", (string?)comment["type"]);
        Assert.Equal(commentId, comment["comment_id"]!.GetValue<long>());
        Assert.Equal("hello group", (string?)comment["text"]);
        Assert.Equal(1, Seq(comment));

        await socket.SendAsync($$"""{"type":"unsubscribe","group":"{{group}}"}""");
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "unsubscribed" && (string?)x["group"] == group), "unsubscribed ack");
        await api.ToggleLikeAsync(post);
        await witness.WaitForEventsAsync(group, 2, "the witness to get the like");
        // The gateway delivered the like to every local subscriber before the witness got it; a ping round trip
        // flushes anything that could still be queued for the unsubscribed socket.
        await socket.RoundTripAsync();
        Assert.Single(socket.Events(group));
    }

    [Fact]
    public async Task ResumeAfterAGapReplaysExactlyTheMissedEventsThenLiveOnes()
    {
        using var api = await fixture.SignedInClientAsync();
        var post = await api.CreatePostAsync("Resume me");
        var group = $"post-{post}";
        long lastSeen;
        await using (var first = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken))
        {
            await first.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "first subscription");
            await api.CommentAsync(post, "one");
            await api.CommentAsync(post, "two");
            await first.WaitForEventsAsync(group, 2, "two comments");
            lastSeen = Seq(first.Events(group)[^1]);
        }

        // Offline: three more, then reconnect to the OTHER gateway and resume.
        foreach (var text in new[] { "three", "four", "five" })
        {
            await api.CommentAsync(post, text);
        }

        await using var second = await FeedSocket.ConnectAsync(fixture.OtherGateway.WebSocketUri($"?resume={group}:{lastSeen}"), cancellationToken: TestContext.Current.CancellationToken);
        await second.WaitForEventsAsync(group, 3, "the three missed comments");
        await api.CommentAsync(post, "six (live)");
        await second.WaitForEventsAsync(group, 4, "the live comment");
        await second.RoundTripAsync();

        var events = second.Events(group);
        Assert.Equal(["three", "four", "five", "six (live)"], events.Select(e => (string?)e["text"]));
        Assert.Equal([lastSeen + 1, lastSeen + 2, lastSeen + 3, lastSeen + 4], events.Select(Seq));
        // The ack comes after the replay and before the live event.
        var order = second.Frames.Select(f => (string?)f["type"]).ToList();
        Assert.True(order.IndexOf("subscribed") == 3, $"subscribed ack after the replay: {string.Join(",", order)}");
    }

    [Fact]
    public async Task ResumeWithoutAGapReplaysNothing()
    {
        using var api = await fixture.SignedInClientAsync();
        var post = await api.CreatePostAsync("No gap");
        var group = $"post-{post}";
        await api.CommentAsync(post, "before");
        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?resume={group}:1"), cancellationToken: TestContext.Current.CancellationToken);
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "subscription");
        Assert.Equal(1, socket.Frames.Single(x => (string?)x["type"] == "subscribed")["last_seq"]!.GetValue<long>());
        await api.CommentAsync(post, "after");
        await socket.WaitForEventsAsync(group, 1, "the live comment");
        await socket.RoundTripAsync();
        Assert.Equal(["after"], socket.Events(group).Select(e => (string?)e["text"]));
        Assert.Equal(2, Seq(socket.Events(group)[0]));
    }

    [Fact]
    public async Task ResumeBeyondTheFeedsReachGetsAResetFrame()
    {
        using var api = await fixture.SignedInClientAsync();
        var post = await api.CreatePostAsync("Far behind");
        var group = $"post-{post}";
        var likers = new List<ApiClient>();
        for (var i = 0; i < GatewayFixture.MaxReplay + 3; i++)
        {
            // Toggle from enough users that the per-user write limit never bites.
            if (i % (GatewayFixture.WriteLimit - 1) == 0)
            {
                likers.Add(await fixture.SignedInClientAsync());
            }

            await likers[^1].ToggleLikeAsync(post);
        }

        likers.ForEach(l => l.Dispose());

        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?resume={group}:1"), cancellationToken: TestContext.Current.CancellationToken);
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "subscription");
        var reset = socket.Frames.Single(x => (string?)x["type"] == "reset");
        Assert.Equal(group, (string?)reset["group"]);
        Assert.Equal(GatewayFixture.MaxReplay + 3, reset["last_seq"]!.GetValue<long>());
        Assert.Empty(socket.Events(group));

        // After the reset, live events continue from there.
        await api.ToggleLikeAsync(post);
        await socket.WaitForEventsAsync(group, 1, "the live like after the reset");
        Assert.Equal(GatewayFixture.MaxReplay + 4, Seq(socket.Events(group)[0]));
    }

    [Fact]
    public async Task OtherOriginIsRefusedBeforeTheUpgrade()
    {
        var refused = await Assert.ThrowsAsync<WebSocketException>(() =>
            FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri(), origin: "http://evil.example", cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(fixture.Gateway.BaseAddress, "/ws/update_notice/"));
        request.Headers.Add("Origin", "http://evil.example");
        request.Headers.Add("Connection", "Upgrade");
        request.Headers.Add("Upgrade", "websocket");
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);

        // The gateway's own origin is fine.
        await using var own = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri("?groups=site"), origin: $"http://127.0.0.1:{fixture.Gateway.HttpPort}", cancellationToken: TestContext.Current.CancellationToken);
        await own.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "own-origin subscription");
    }

    [Theory]
    [InlineData("{not json", "bad_json")]
    [InlineData("[1,2]", "bad_message")]
    [InlineData("""{"group":"site"}""", "bad_message")]
    [InlineData("""{"type":"dance"}""", "unknown_type")]
    [InlineData("""{"type":"subscribe","group":"nope"}""", "unknown_group")]
    [InlineData("""{"type":"subscribe","group":"post-007"}""", "unknown_group")]
    [InlineData("""{"type":"subscribe","group":"post-1","resume":-4}""", "bad_message")]
    [InlineData("""{"type":"unsubscribe","group":"post-99999999"}""", "not_subscribed")]
    public async Task BadMessageGetsAnErrorFrameAndKeepsTheConnection(string message, string code)
    {
        using var api = await fixture.SignedInClientAsync();
        var post = await api.CreatePostAsync("Still subscribed");
        var group = $"post-{post}";
        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken);
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "subscription");

        await socket.SendAsync(message);
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "error"), $"an error frame for {message}");
        Assert.Equal(code, (string?)socket.Frames.Single(x => (string?)x["type"] == "error")["code"]);

        // The connection and its subscription are unharmed.
        await api.CommentAsync(post, "after the error");
        await socket.WaitForEventsAsync(group, 1, "a comment after the bad message");
        Assert.Equal(WebSocketState.Open, socket.Socket.State);
    }

    [Fact]
    public async Task TooManySubscriptionsIsRefusedAndTheOthersStay()
    {
        using var api = await fixture.SignedInClientAsync();
        var posts = new List<long>();
        for (var i = 0; i < GatewayFixture.MaxSubscriptions; i++)
        {
            posts.Add(await api.CreatePostAsync($"Subscribed {i}"));
        }

        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri("?groups=site"), cancellationToken: TestContext.Current.CancellationToken);
        for (var i = 1; i < GatewayFixture.MaxSubscriptions; i++)
        {
            await socket.SendAsync($$"""{"type":"subscribe","group":"post-{{posts[i]}}"}""");
        }

        await socket.WaitForAsync(f => f.Count(x => (string?)x["type"] == "subscribed") == GatewayFixture.MaxSubscriptions, "the allowed subscriptions");
        await socket.SendAsync($$"""{"type":"subscribe","group":"post-{{posts[0]}}"}""");
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "error"), "the refusal");
        Assert.Equal("too_many_subscriptions", (string?)socket.Frames.Single(x => (string?)x["type"] == "error")["code"]);

        var id = await api.CreatePostAsync("Site still live");
        await socket.WaitForAsync(f => f.Any(x => x["new_id"]?.GetValue<long>() == id), "the site post after the refusal");
    }

    [Theory]
    [InlineData("binary", 1003)]
    [InlineData("oversized", 1009)]
    [InlineData("utf8", 1007)]
    public async Task UnacceptableFrameClosesWithAClearCodeAndSparesOthers(string kind, int expectedCode)
    {
        await using var bystander = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri(), cancellationToken: TestContext.Current.CancellationToken);
        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri("?groups=site"), cancellationToken: TestContext.Current.CancellationToken);
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "subscription");
        switch (kind)
        {
            case "binary":
                await socket.SendAsync([1, 2, 3], WebSocketMessageType.Binary);
                break;
            case "oversized":
                await socket.SendAsync($$"""{"type":"ping","pad":"{{new string('x', 5000)}}"}""");
                break;
            default:
                await socket.SendAsync([0x7b, 0xff, 0xfe, 0x7d], WebSocketMessageType.Text);
                break;
        }

        await socket.WaitClosedAsync($"the close after a {kind} frame");
        Assert.Equal((WebSocketCloseStatus)expectedCode, socket.CloseStatus);

        using var api = await fixture.SignedInClientAsync();
        var id = await api.CreatePostAsync("Bystander unaffected");
        await bystander.WaitForAsync(f => f.Any(x => x["new_id"]?.GetValue<long>() == id), "the bystander's post");
    }

    [Fact]
    public async Task BadConnectUrlIsRefusedWithAProblem()
    {
        using var http = new HttpClient();
        foreach (var query in new[] { "?groups=bogus", "?resume=site:abc", $"?groups={string.Join(',', Enumerable.Range(1, GatewayFixture.MaxSubscriptions + 1).Select(i => $"post-{i}"))}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(fixture.Gateway.BaseAddress, "/ws/update_notice/" + query));
            request.Headers.Add("Connection", "Upgrade");
            request.Headers.Add("Upgrade", "websocket");
            request.Headers.Add("Sec-WebSocket-Version", "13");
            request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
            using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task NeverReadingClientIsCutOffWithoutSlowingAReadingOneAndResumesInSync()
    {
        using var api = await fixture.SignedInClientAsync();
        var post = await api.CreatePostAsync("Firehose");
        var group = $"post-{post}";
        await using var reader = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken);
        await reader.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "reader subscription");

        // A client with a tiny receive window that reads nothing at all.
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 2048 };
        await raw.ConnectAsync(IPAddress.Loopback, fixture.Gateway.HttpPort, TestContext.Current.CancellationToken);
        var stream = new NetworkStream(raw, ownsSocket: false);
        var handshake = $"GET /ws/update_notice/?groups={group} HTTP/1.1\r\nHost: 127.0.0.1:{fixture.Gateway.HttpPort}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Convert.ToBase64String(Guid.NewGuid().ToByteArray())}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(handshake), TestContext.Current.CancellationToken);
        var status = new byte[12];
        await stream.ReadExactlyAsync(status, TestContext.Current.CancellationToken);
        Assert.Equal("HTTP/1.1 101", Encoding.ASCII.GetString(status));

        // Writers spread over users so the per-user write limit is not what stops them.
        var writers = new List<ApiClient> { api };
        for (var i = 0; i < 4; i++)
        {
            writers.Add(await fixture.SignedInClientAsync());
        }

        var text = new string('w', 1900);
        const int comments = 150;
        for (var i = 0; i < comments; i++)
        {
            await writers[i % writers.Count].CommentAsync(post, $"{i:D3} {text}");
        }

        await reader.WaitForEventsAsync(group, comments, "the reading client to get every comment", TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(1, comments).Select(i => (long)i), reader.Events(group).Select(Seq));

        // Now read what the slow client was sent: a prefix of the feed, then the end of the connection.
        await using var slow = await FeedSocket.ConnectFromStreamAsync(stream);
        await slow.WaitClosedAsync("the slow client's connection to be ended by the server", TimeSpan.FromSeconds(30));
        var got = slow.Events(group);
        Assert.True(got.Count < comments, $"the slow client was cut off, not sent all {comments} ({got.Count} arrived)");
        Assert.Equal(Enumerable.Range(1, got.Count).Select(i => (long)i), got.Select(Seq));
        if (slow.CloseStatus is { } close)
        {
            Assert.Equal(4001, (int)close);
        }

        // It resumes from its last seq and is back in sync.
        var resumeFrom = got.Count == 0 ? 0 : Seq(got[^1]);
        await using var resumed = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?resume={group}:{resumeFrom}"), cancellationToken: TestContext.Current.CancellationToken);
        await resumed.WaitForEventsAsync(group, comments - (int)resumeFrom, "the resumed slow client to catch up", TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range((int)resumeFrom + 1, comments - (int)resumeFrom).Select(i => (long)i), resumed.Events(group).Select(Seq));
        foreach (var writer in writers.Skip(1))
        {
            writer.Dispose();
        }
    }

    [Fact]
    public async Task ConnectionThatStopsAnsweringPingsIsClosedAndAnAnsweringOneStays()
    {
        // A gateway of its own with a fast heartbeat: ping every 500 ms, give up 1 s after an unanswered one.
        var gateway = await fixture.System.StartGatewayAsync(extraArguments: ["--Gateway:PingInterval", "00:00:00.500", "--Gateway:PingTimeout", "00:00:01"]);
        await using var stop = new AsyncDisposer(() => gateway.Process.StopAsync(TimeSpan.FromSeconds(10)));
        await using var answering = await FeedSocket.ConnectAsync(gateway.WebSocketUri("?groups=site"), cancellationToken: TestContext.Current.CancellationToken);
        await answering.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "the answering client's subscription");

        // A client that completes the upgrade, then only reads raw bytes: it never answers a ping.
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await raw.ConnectAsync(IPAddress.Loopback, gateway.HttpPort, TestContext.Current.CancellationToken);
        await using var stream = new NetworkStream(raw, ownsSocket: false);
        var handshake = $"GET /ws/update_notice/ HTTP/1.1\r\nHost: 127.0.0.1:{gateway.HttpPort}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Convert.ToBase64String(Guid.NewGuid().ToByteArray())}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(handshake), TestContext.Current.CancellationToken);

        var received = new List<byte>();
        var buffer = new byte[4096];
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(20));
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, limit.Token);
                if (n == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (IOException)
        {
            // Reset by the server: closed as well.
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail("the server did not close a connection that never answered its pings within 20 s");
        }

        var text = Encoding.ASCII.GetString([.. received]);
        Assert.StartsWith("HTTP/1.1 101", text, StringComparison.Ordinal);
        // The server did ping it (opcode 0x9) before giving up.
        var body = received.Skip(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4).ToArray();
        Assert.True(ContainsFrame(body, 0x89), "the server sent a ping frame before closing");

        // The client that answers pings outlived it and is still live.
        Assert.Equal(WebSocketState.Open, answering.Socket.State);
        using var api = await fixture.SignedInClientAsync(gateway);
        var id = await api.CreatePostAsync("Still answering");
        await answering.WaitForAsync(f => f.Any(x => x["new_id"]?.GetValue<long>() == id), "a post for the answering client");
    }

    private sealed class AsyncDisposer(Func<Task> dispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await dispose();
    }

    /// <summary>Whether the server-to-client byte stream holds a frame whose first byte is <paramref name="first"/> (walks the frames).</summary>
    private static bool ContainsFrame(byte[] bytes, byte first)
    {
        var i = 0;
        while (i + 2 <= bytes.Length)
        {
            if (bytes[i] == first)
            {
                return true;
            }

            long length = bytes[i + 1] & 0x7f;
            var header = 2;
            if (length == 126 && i + 4 <= bytes.Length)
            {
                length = (bytes[i + 2] << 8) | bytes[i + 3];
                header = 4;
            }
            else if (length == 127 && i + 10 <= bytes.Length)
            {
                length = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(i + 2, 8));
                header = 10;
            }

            i += header + (int)length;
        }

        return false;
    }
}
