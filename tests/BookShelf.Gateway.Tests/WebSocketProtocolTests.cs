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
