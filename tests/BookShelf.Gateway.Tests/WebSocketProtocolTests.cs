using System.Text;

namespace BookShelf.Gateway.Tests;

/// <summary>The WebSocket protocol itself (RFC 6455), on raw sockets: framing, control frames, errors, both serving paths.</summary>
[Collection(GatewayCollection.Name)]
public sealed class WebSocketProtocolTests(GatewayFixture fixture)
{
    [Fact]
    public async Task SeveralMessagesInOneWriteAreEachAnswered()
    {
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken);
        Assert.StartsWith("HTTP/1.1 101", socket.UpgradeAnswer, StringComparison.Ordinal);
        await socket.ReadTextUntilAsync(t => t.Contains("\"subscribed\"", StringComparison.Ordinal), "the site subscription");

        await socket.WriteAsync([.. RawWebSocket.Text("""{"type":"subscribe","group":"post-910001"}"""), .. RawWebSocket.Text("""{"type":"ping"}"""), .. RawWebSocket.Text("""{"type":"subscribe","group":"post-910002"}""")], TestContext.Current.CancellationToken);

        await socket.ReadTextUntilAsync(t => t.Contains("post-910001", StringComparison.Ordinal), "the first subscription");
        await socket.ReadTextUntilAsync(t => t.Contains("\"pong\"", StringComparison.Ordinal), "the pong");
        await socket.ReadTextUntilAsync(t => t.Contains("post-910002", StringComparison.Ordinal), "the second subscription");
    }

    [Fact]
    public async Task FragmentedMessageIsAssembled()
    {
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken);
        await socket.ReadTextUntilAsync(t => t.Contains("\"subscribed\"", StringComparison.Ordinal), "the site subscription");

        // {"type":"ping"} in three frames, with a ping control frame between two of them.
        await socket.WriteAsync([
            .. RawWebSocket.Frame(0x1, Encoding.UTF8.GetBytes("""{"ty"""), fin: false),
            .. RawWebSocket.Frame(0x9, Encoding.UTF8.GetBytes("hello")),
            .. RawWebSocket.Frame(0x0, Encoding.UTF8.GetBytes("""pe":"pi"""), fin: false),
            .. RawWebSocket.Frame(0x0, Encoding.UTF8.GetBytes("""ng"}""")),
        ], TestContext.Current.CancellationToken);

        var pong = await socket.ReadFrameAsync();
        Assert.Equal(0xA, pong!.Value.Opcode);
        Assert.Equal("hello", Encoding.UTF8.GetString(pong.Value.Payload));
        await socket.ReadTextUntilAsync(t => t == """{"type":"pong"}""", "the answer to the fragmented ping message");
    }

    [Theory]
    [InlineData("unmasked")]
    [InlineData("reserved bit")]
    [InlineData("unknown opcode")]
    [InlineData("continuation first")]
    [InlineData("long control frame")]
    public async Task ProtocolErrorClosesWith1002(string kind)
    {
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken);
        await socket.ReadTextUntilAsync(t => t.Contains("\"subscribed\"", StringComparison.Ordinal), "the site subscription");
        var ping = Encoding.UTF8.GetBytes("""{"type":"ping"}""");
        byte[] frame = kind switch
        {
            "unmasked" => RawWebSocket.Frame(0x1, ping, masked: false),
            "reserved bit" => [(byte)(RawWebSocket.Text("x")[0] | 0x40), .. RawWebSocket.Text("x")[1..]],
            "unknown opcode" => RawWebSocket.Frame(0x3, ping),
            "continuation first" => RawWebSocket.Frame(0x0, ping),
            _ => RawWebSocket.Frame(0x9, new byte[126]),
        };
        await socket.WriteAsync(frame, TestContext.Current.CancellationToken);
        Assert.Equal(1002, await socket.ReadCloseAsync());
    }

    [Theory]
    [InlineData("ping of 2^63 + 200 bytes")]
    [InlineData("ping of 2^63 + 65536 bytes")]
    [InlineData("text of -1 bytes")]
    [InlineData("16-bit length below 126")]
    [InlineData("64-bit length below 65536")]
    public async Task PayloadLengthRfc6455ForbidsClosesWith1002(string kind)
    {
        // Hand-made headers (mask key 0): 0x89 ping / 0x81 text, then 0xFE (16-bit) or 0xFF (64-bit) length.
        byte[] Header(byte first, byte lengthCode, params byte[] length) => [first, lengthCode, .. length, 0, 0, 0, 0];
        byte[] frame = kind switch
        {
            "ping of 2^63 + 200 bytes" => [.. Header(0x89, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 200), .. new byte[200]],
            "ping of 2^63 + 65536 bytes" => [.. Header(0x89, 0xFF, 0x80, 0, 0, 0, 0, 1, 0, 0), .. new byte[1024]],
            "text of -1 bytes" => Header(0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF),
            "16-bit length below 126" => [.. Header(0x81, 0xFE, 0, 5), .. "hello"u8.ToArray()],
            _ => [.. Header(0x81, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5), .. "hello"u8.ToArray()],
        };
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken);
        await socket.ReadTextUntilAsync(t => t.Contains("\"subscribed\"", StringComparison.Ordinal), "the site subscription");
        await socket.WriteAsync(frame, TestContext.Current.CancellationToken);

        // No pong of any size comes back before the close (other tests' posts and heartbeat pings may).
        var next = await socket.ReadFrameAsync();
        while (next is { Opcode: not 0x8 } other)
        {
            Assert.NotEqual(0xA, other.Opcode);
            next = await socket.ReadFrameAsync();
        }

        Assert.NotNull(next);
        Assert.Equal(1002, (next.Value.Payload[0] << 8) | next.Value.Payload[1]);
    }

    [Theory]
    [InlineData(new byte[] { 0x03 })]
    [InlineData(new byte[] { 0x03, 0xE7 })]
    [InlineData(new byte[] { 0x03, 0xED })]
    [InlineData(new byte[] { 0x13, 0x88 })]
    [InlineData(new byte[] { 0x03, 0xE8, 0xFF, 0xFE })]
    public async Task MalformedCloseFrameClosesWith1002(byte[] payload)
    {
        // A 1-byte payload, code 999, 1005 (reserved), 5000 (unassigned), a reason that is not UTF-8.
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken);
        await socket.ReadTextUntilAsync(t => t.Contains("\"subscribed\"", StringComparison.Ordinal), "the site subscription");
        await socket.WriteAsync(RawWebSocket.Frame(0x8, payload), TestContext.Current.CancellationToken);
        Assert.Equal(1002, await socket.ReadCloseAsync());
    }

    [Fact]
    public async Task OtherWebSocketVersionGets426NamingVersion13()
    {
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken, version: "12");
        Assert.StartsWith("HTTP/1.1 426", socket.UpgradeAnswer, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Version: 13", socket.UpgradeAnswer, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ClientCloseIsAnsweredWithAClose()
    {
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, cancellationToken: TestContext.Current.CancellationToken);
        await socket.ReadTextUntilAsync(t => t.Contains("\"subscribed\"", StringComparison.Ordinal), "the site subscription");
        await socket.WriteAsync(RawWebSocket.Frame(0x8, [0x03, 0xE8]), TestContext.Current.CancellationToken);
        Assert.Equal(1000, await socket.ReadCloseAsync());
        Assert.Null(await socket.ReadFrameAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task UpgradeAfterAnHttpRequestOnTheSameConnectionIsServedToo()
    {
        // The second request of a keep-alive connection goes through HTTP: the same endpoint, the same rules.
        using var api = await fixture.SignedInClientAsync();
        using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, "/ws/update_notice/", httpFirst: "/css/site.css", cancellationToken: TestContext.Current.CancellationToken);
        Assert.StartsWith("HTTP/1.1 101", socket.UpgradeAnswer, StringComparison.Ordinal);
        var id = await api.CreatePostAsync("Through HTTP");
        var frame = await socket.ReadTextUntilAsync(t => t.Contains($"\"new_id\":{id},", StringComparison.Ordinal), $"post {id}");
        Assert.Contains("\"group\":\"site\"", frame, StringComparison.Ordinal);

        await socket.WriteAsync(RawWebSocket.Frame(0x1, Encoding.UTF8.GetBytes("""{"type":"ping"}"""), masked: false), TestContext.Current.CancellationToken);
        Assert.Equal(1002, await socket.ReadCloseAsync());
    }

    [Fact]
    public async Task RefusalsAnswerWithAProblemOnBothPaths()
    {
        foreach (var httpFirst in new string?[] { null, "/css/site.css" })
        {
            using var socket = await RawWebSocket.ConnectAsync(fixture.Gateway.HttpPort, "/ws/update_notice/?groups=nope", httpFirst, TestContext.Current.CancellationToken);
            Assert.StartsWith("HTTP/1.1 400", socket.UpgradeAnswer, StringComparison.Ordinal);
            Assert.Contains("application/problem+json", socket.UpgradeAnswer, StringComparison.Ordinal);
        }
    }
}
