using System.Net.Sockets;

namespace BookShelf.Cluster.Tests;

/// <summary>
/// Redis over TLS, set up as docs/deployment.md says: a primary and a replica, three Sentinels, every one of them
/// listening for TLS only (plain TCP off), replication and Sentinel links over TLS, certificates from a private
/// authority made for the run; silos and gateways get <c>ssl=true</c> and <c>RedisCaCertificatePath</c>.
/// </summary>
public sealed class RedisTlsTests : IAsyncLifetime
{
    private LocalSystem _system = null!;
    private ResilientFeedClient _client = null!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        _system = await LocalSystem.StartAsync(new LocalSystemOptions { Folder = "tls", Silos = 1, Gateways = 1, RedisReplicas = 1, RedisTls = true });
        _client = new ResilientFeedClient(_system.Gateways, first: 0);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        await _system.DisposeAsync();
    }

    [Fact]
    public async Task OverTlsOnlyPostsAreStoredAndDeliveredAndPlainTcpGetsNoAnswer()
    {
        // What a client without TLS gets from each server and Sentinel: no Redis reply (the handshake fails).
        foreach (var server in _system.RedisServers.Servers.Concat(_system.RedisServers.Sentinels))
        {
            Assert.Null(await PlainReplyAsync(server));
        }

        await _client.WaitLiveAsync(TimeSpan.FromSeconds(30));
        await using var load = await PostLoad.StartAsync(_system.Gateways, postsPerSecond: 20);
        await load.WaitForMoreAsync(20, TimeSpan.FromSeconds(60));
        await load.StopAsync();
        var ids = load.Acknowledged.ToList();
        await _client.WaitForAsync(ids, TimeSpan.FromSeconds(30));
        Assert.Equal(ids.Order(), _client.Ids.Order());
        Assert.Empty(_client.Violations);
        // The gateway's own connection (its key ring) got through too.
        Assert.Empty(await _system.RedisServers.AbsentAsync(["bookshelf:dataprotection-keys"]));
        // The replica follows its primary, and every Sentinel sees the primary up, its replica and the two other
        // Sentinels: each of those links is a TLS connection (plain TCP is off everywhere).
        Assert.Equal(1, await _system.RedisServers.ConnectedReplicasAsync(_system.RedisServers.Servers[0]));
        foreach (var sentinel in _system.RedisServers.Sentinels)
        {
            await Poll.UntilAsync(async () => await _system.RedisServers.SentinelViewAsync(sentinel) is var view
                && view["flags"] == "master" && view["num-slaves"] == "1" && view["num-other-sentinels"] == "2",
                TimeSpan.FromSeconds(30), $"{sentinel.Name} to see the primary, its replica and the other Sentinels", cancellationToken: TestContext.Current.CancellationToken);
        }

        Figures.Record("tls", $"Redis over TLS only (primary, replica, 3 Sentinels): {ids.Count} posts acknowledged and delivered exactly once; plain TCP got no reply from any of the {_system.RedisServers.Servers.Count + _system.RedisServers.Sentinels.Count} servers");
    }

    /// <summary>The first line a server sends back to a plain-text PING, or null when it sends none and closes.</summary>
    private static async Task<string?> PlainReplyAsync(RedisServer server)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Address, server.Port, TestContext.Current.CancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync("PING\r\n"u8.ToArray(), TestContext.Current.CancellationToken);
        var buffer = new byte[64];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            var text = System.Text.Encoding.ASCII.GetString(buffer, 0, read);
            // A Redis reply starts with + - : $ or *; a TLS server answers bytes that are none of them, or closes.
            return read > 0 && "+-:$*".Contains(text[0], StringComparison.Ordinal) ? text : null;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && !TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }
}
