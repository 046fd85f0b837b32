using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace BookShelf.Gateway.Tests;

/// <summary>The handshake below HTTP is no weaker than Kestrel's, and connections are capped.</summary>
[Collection(GatewayCollection.Name)]
public sealed class HandshakeAbuseTests(GatewayFixture fixture)
{
    [Fact]
    public async Task ConnectionsPastThePerAddressCapGet429AndAPlaceFreesWhenOneCloses()
    {
        var from = IPAddress.Parse("127.0.0.42");
        var held = new List<RawWebSocket>();
        try
        {
            for (var i = 0; i < GatewayFixture.ConnectionsPerAddress; i++)
            {
                var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken, from: from);
                held.Add(socket);
                Assert.StartsWith("HTTP/1.1 101", socket.UpgradeAnswer, StringComparison.Ordinal);
            }

            using (var refused = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken, from: from))
            {
                Assert.StartsWith("HTTP/1.1 429", refused.UpgradeAnswer, StringComparison.Ordinal);
                Assert.Contains("application/problem+json", refused.UpgradeAnswer, StringComparison.Ordinal);
            }

            // Another address is not affected.
            using (var other = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken, from: IPAddress.Parse("127.0.0.43")))
            {
                Assert.StartsWith("HTTP/1.1 101", other.UpgradeAnswer, StringComparison.Ordinal);
            }

            held[0].Dispose();
            held.RemoveAt(0);
            await Poll.UntilAsync(async () =>
            {
                using var again = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken, from: from);
                return again.UpgradeAnswer.StartsWith("HTTP/1.1 101", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(20), "a place to free after a connection closed", cancellationToken: TestContext.Current.CancellationToken);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task GatewayPastItsCapGets503()
    {
        var small = await fixture.System.StartGatewayAsync(extraArguments: ["--Gateway:MaxConnections", "3"]);
        var held = new List<RawWebSocket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                held.Add(await RawWebSocket.ConnectAsync(small.HttpPort, cancellationToken: TestContext.Current.CancellationToken));
                Assert.StartsWith("HTTP/1.1 101", held[^1].UpgradeAnswer, StringComparison.Ordinal);
            }

            using var refused = await RawWebSocket.ConnectAsync(small.HttpPort, cancellationToken: TestContext.Current.CancellationToken);
            Assert.StartsWith("HTTP/1.1 503", refused.UpgradeAnswer, StringComparison.Ordinal);
            Assert.Contains("Retry-After", refused.UpgradeAnswer, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
            await small.Process.StopAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Theory]
    [InlineData("Host: a b<script>")]
    [InlineData("Host: exa\"mple.org")]
    public async Task BadHostGets400NotAnUpgrade(string hostLine)
    {
        var answer = await HandshakeAsync($"GET /ws/update_notice/ HTTP/1.1\r\n{hostLine}\r\n{UpgradeHeaders()}\r\n");
        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostOutsideAllowedHostsIsRefusedOnTheFastPathToo()
    {
        var strict = await fixture.System.StartGatewayAsync(extraArguments: ["--AllowedHosts", "bookshelf.example;127.0.0.1"]);
        try
        {
            var refused = await HandshakeAsync($"GET /ws/update_notice/ HTTP/1.1\r\nHost: elsewhere.example\r\n{UpgradeHeaders()}\r\n", strict.HttpPort);
            Assert.StartsWith("HTTP/1.1 400", refused, StringComparison.Ordinal);
            var allowed = await HandshakeAsync($"GET /ws/update_notice/ HTTP/1.1\r\nHost: bookshelf.example\r\n{UpgradeHeaders()}\r\n", strict.HttpPort);
            Assert.StartsWith("HTTP/1.1 101", allowed, StringComparison.Ordinal);
        }
        finally
        {
            await strict.Process.StopAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task FiveHundredHeadersGet431NotAnUpgrade()
    {
        var extra = string.Concat(Enumerable.Range(0, 500).Select(i => $"X-Filler-{i}: x\r\n"));
        var answer = await HandshakeAsync($"GET /ws/update_notice/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{UpgradeHeaders()}{extra}\r\n");
        Assert.StartsWith("HTTP/1.1 431", answer, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("GET /ws/update_not")]
    public async Task SilentOrStalledClientIsDroppedWithinKestrelsHeaderTimeout(string sent)
    {
        // The fixture sets Kestrel's request headers timeout to 5 s: the whole handshake gets that long, not that
        // plus HTTP's own timers (it was 162 s for silence and 193 s for a stalled prefix).
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, fixture.Gateway.HttpPort, TestContext.Current.CancellationToken);
        if (sent.Length > 0)
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(sent), TestContext.Current.CancellationToken);
        }

        var clock = Stopwatch.StartNew();
        var buffer = new byte[4096];
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(90));
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token) > 0)
            {
                // Whatever it answers (a 408 or nothing), it must end the connection.
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Dropped: ended too.
        }

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15));
    }

    private static string UpgradeHeaders() =>
        $"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Convert.ToBase64String(Guid.NewGuid().ToByteArray())}\r\n";

    private async Task<string> HandshakeAsync(string request, int? port = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port ?? fixture.Gateway.HttpPort, TestContext.Current.CancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), TestContext.Current.CancellationToken);
        var buffer = new byte[8192];
        var read = await stream.ReadAsync(buffer, TestContext.Current.CancellationToken);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }
}

/// <summary>Subscriptions cannot be used to make the cluster hold state for groups that do not exist.</summary>
[Collection(GatewayCollection.Name)]
public sealed class SubscriptionAbuseTests(GatewayFixture fixture)
{
    [Fact]
    public async Task MadeUpPostGroupsAreRefusedAndARealOneIsJoined()
    {
        using var api = await fixture.SignedInClientAsync();
        var real = await api.CreatePostAsync("A real post");
        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri($"?groups=site,post-8000000000001"), cancellationToken: TestContext.Current.CancellationToken);
        for (var i = 2; i <= 40; i++)
        {
            await socket.SendAsync($$"""{"type":"subscribe","group":"post-{{8_000_000_000_000 + i}}"}""");
            await socket.SendAsync($$"""{"type":"unsubscribe","group":"post-{{8_000_000_000_000 + i}}"}""");
        }

        await socket.SendAsync($$"""{"type":"subscribe","group":"post-{{real}}"}""");
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed" && (string?)x["group"] == $"post-{real}"), "the real post's group");
        var unknown = socket.Frames.Where(x => (string?)x["type"] == "error" && (string?)x["code"] == "unknown_group").Select(x => (string?)x["group"]).ToHashSet();
        Assert.Equal(40, unknown.Count);
        Assert.DoesNotContain(socket.Frames, x => (string?)x["type"] == "subscribed" && ((string?)x["group"] ?? "").StartsWith("post-8000000", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SubscribeChurnPastTheLimitIsRefusedAndTheConnectionStays()
    {
        await using var socket = await FeedSocket.ConnectAsync(fixture.Gateway.WebSocketUri("?groups=site"), cancellationToken: TestContext.Current.CancellationToken);
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "the site subscription");
        for (var i = 0; i < 70; i++)
        {
            await socket.SendAsync("""{"type":"unsubscribe","group":"site"}""");
            await socket.SendAsync("""{"type":"subscribe","group":"site"}""");
        }

        await socket.WaitForAsync(f => f.Any(x => (string?)x["code"] == "rate_limited"), "the churn refusal");
        await socket.SendAsync("""{"type":"ping"}""");
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "pong"), "the connection to still answer");
    }
}
