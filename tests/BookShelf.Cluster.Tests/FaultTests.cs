using System.Net.WebSockets;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace BookShelf.Cluster.Tests;

/// <summary>
/// Faults on the real multi-process system: two silos and two gateways on Redis, WebSocket clients spread over
/// both gateways, posts created over HTTP at a steady rate throughout. Each test reports its own figures.
/// </summary>
public sealed class FaultTests : IAsyncLifetime
{
    private const int ClientsPerGateway = 10;
    private const double PostsPerSecond = 20;
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(90);

    private readonly List<ResilientFeedClient> _clients = [];
    private LocalSystem _system = null!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        _system = await LocalSystem.StartAsync(new LocalSystemOptions
        {
            Silos = 2,
            Gateways = 2,
            // The load posts 20 a second from one user at one address.
            GatewayArguments = [.. LocalSystemOptions.RaisedWriteLimits, "--Gateway:Feed:RenewInterval", "00:00:02"],
            SiloArguments = ["--Feed:LeaseDuration", "00:00:08"],
        });
        for (var i = 0; i < ClientsPerGateway * 2; i++)
        {
            _clients.Add(new ResilientFeedClient(_system.Gateways, first: i % 2));
        }

        foreach (var client in _clients)
        {
            await client.WaitLiveAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        if (_system is not null)
        {
            await _system.DisposeAsync();
        }
    }

    [Fact]
    public async Task KilledSiloLosesNoAcknowledgedPostAndNoNotification()
    {
        await using var load = await PostLoad.StartAsync(_system.Gateways, PostsPerSecond);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));

        var clock = Stopwatch.StartNew();
        await _system.Silos[1].Process.KillAsync();
        await load.WaitForMoreAsync(60, Recovery);
        var recovered = clock.Elapsed;
        await load.StopAsync();

        await AssertEveryAcknowledgedPostReadableAndDeliveredAsync(load, $"silo kill -9; writes acknowledged again {recovered.TotalSeconds:F1} s after the kill");
    }

    [Fact]
    public async Task KilledGatewaysClientsResumeOnTheOtherGateway()
    {
        await using var load = await PostLoad.StartAsync(_system.Gateways, PostsPerSecond);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));

        var clock = Stopwatch.StartNew();
        await _system.Gateways[0].Process.KillAsync();
        await load.WaitForMoreAsync(60, Recovery);
        foreach (var client in _clients)
        {
            await client.WaitLiveAsync(Recovery);
        }

        var recovered = clock.Elapsed;
        await load.StopAsync();
        Assert.True(_clients.Count(c => c.Reconnects > 0) >= ClientsPerGateway, "the killed gateway's clients reconnected");
        await AssertEveryAcknowledgedPostReadableAndDeliveredAsync(load, $"gateway kill -9; every client live again {recovered.TotalSeconds:F1} s after the kill");
    }

    [Fact]
    public async Task RedisRestartLosesNothingAndWritesFailFastWhileItIsDown()
    {
        await using var load = await PostLoad.StartAsync(_system.Gateways, PostsPerSecond);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));
        var before = load.Acknowledged.Count;

        using var api = new ApiClient(_system.Gateways[0].BaseAddress);
        await api.SignUpAndSignInAsync();
        await _system.StopRedisAsync();
        // While Redis is down a write fails with a clear 503, fast, instead of hanging.
        var clock = Stopwatch.StartNew();
        using var refused = await api.PostJsonAsync("/api/posts", new { title = "while redis is down", body = "x" });
        var failedAfter = clock.Elapsed;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.True(failedAfter < TimeSpan.FromSeconds(10), $"the write failed after {failedAfter.TotalSeconds:F1} s");

        await _system.StartRedisAsync();
        var restarted = Stopwatch.StartNew();
        await load.WaitForMoreAsync(40, Recovery);
        var recovered = restarted.Elapsed;
        await load.StopAsync();

        await AssertEveryAcknowledgedPostReadableAndDeliveredAsync(load,
            $"redis stopped and restarted; {before} acknowledged before; a write while down failed in {failedAfter.TotalMilliseconds:F0} ms with 503; writes acknowledged again {recovered.TotalSeconds:F1} s after the restart, no silo or gateway restarted");
    }

    [Fact]
    public async Task GracefulRollingRestartOfEverySiloLosesAndRepeatsNothing()
    {
        await using var load = await PostLoad.StartAsync(_system.Gateways, PostsPerSecond);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();
        foreach (var silo in _system.Silos.ToList())
        {
            await _system.StartSiloAsync();
            await silo.Process.StopAsync(TimeSpan.FromSeconds(30));
            await load.WaitForMoreAsync(20, Recovery);
        }

        var took = clock.Elapsed;
        await load.StopAsync();
        Assert.All(_clients, c => Assert.Equal(0, c.Reconnects));
        await AssertEveryAcknowledgedPostReadableAndDeliveredAsync(load, $"rolling restart of {_system.Silos.Count / 2} silos in {took.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task AWriteWhoseSignInCannotBeCheckedIsRefusedAndSaysNothingChanged()
    {
        using var api = new ApiClient(_system.Gateways[0].BaseAddress);
        await api.SignUpAndSignInAsync();
        var title = "while every silo is paused " + Guid.NewGuid().ToString("N");

        // Every silo stopped (SIGSTOP): the gateway cannot check the token's session, so it never runs the write, and
        // its 503 must say so (not "the outcome is unknown", which sends a careful client to check or retry).
        foreach (var silo in _system.Silos)
        {
            silo.Process.Pause();
        }

        JsonObject problem;
        try
        {
            using var refused = await api.PostJsonAsync("/api/posts", new { title, body = "x" });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter is not null, "a 503 carries Retry-After");
            problem = await ApiClient.ProblemAsync(refused);
        }
        finally
        {
            foreach (var silo in _system.Silos)
            {
                silo.Process.Resume();
            }
        }

        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("nothing was changed", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown", detail, StringComparison.Ordinal);

        // The same token works once the silos run again, and the refused write never happened.
        var after = await api.CreatePostAsync("after the silos resumed " + Guid.NewGuid().ToString("N"));
        var items = (await api.GetJsonAsync("/api/posts?limit=100"))!["items"]!.AsArray();
        Assert.Contains(items, item => item!["id"]!.GetValue<long>() == after);
        Assert.DoesNotContain(items, item => item!["title"]!.GetValue<string>() == title);
    }

    [Fact]
    public async Task AConnectionWhoseGroupCannotBeJoinedIsToldAndClosedSoItsClientReconnectsAndResumes()
    {
        using var api = new ApiClient(_system.Gateways[0].BaseAddress);
        await api.SignUpAndSignInAsync();
        var post = await api.CreatePostAsync("joined while the silos are paused " + Guid.NewGuid().ToString("N"));
        var group = $"post-{post}";

        // Every silo stopped: no gateway has this group's feed yet, so joining it needs the cluster, which does not
        // answer. Left open, the connection would never carry the group's events; it must say why and close.
        foreach (var silo in _system.Silos)
        {
            silo.Process.Pause();
        }

        try
        {
            await using var socket = await FeedSocket.ConnectAsync(_system.Gateways[0].WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken);
            await socket.WaitClosedAsync("the connection closed after its join failed", TimeSpan.FromSeconds(30));
            // 1013 from the failed join; 4002 if the gateway's own watch on the cluster gave up first. Both mean "reconnect and resume".
            Assert.Contains(socket.CloseStatus, new WebSocketCloseStatus?[] { (WebSocketCloseStatus)1013, (WebSocketCloseStatus)4002 });
            if (socket.CloseStatus == (WebSocketCloseStatus)1013)
            {
                Assert.Contains(socket.Frames, f => (string?)f["type"] == "error" && (string?)f["code"] == "unavailable" && (string?)f["group"] == group);
            }
        }
        finally
        {
            foreach (var silo in _system.Silos)
            {
                silo.Process.Resume();
            }
        }

        // The client's reconnect, once the cluster answers again, joins the group and gets its events.
        FeedSocket? again = null;
        await Poll.UntilAsync(async () =>
        {
            if (again is not null)
            {
                await again.DisposeAsync();
            }

            try
            {
                again = await FeedSocket.ConnectAsync(_system.Gateways[0].WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken);
                await again.RoundTripAsync();
                return again.CloseStatus is null && !again.Frames.Any(f => (string?)f["type"] == "error");
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException or InvalidOperationException)
            {
                return false; // refused (503) or closed while the cluster comes back
            }
        }, TimeSpan.FromSeconds(60), "a connection that joins the group once the silos run again", cancellationToken: TestContext.Current.CancellationToken);
        await using (again)
        {
            await api.CommentAsync(post, "after the silos resumed");
            await again!.WaitForEventsAsync(group, 1, "the comment's event on the rejoined connection");
        }
    }

    private async Task AssertEveryAcknowledgedPostReadableAndDeliveredAsync(PostLoad load, string scenario)
    {
        var acknowledged = load.Acknowledged;
        Assert.NotEmpty(acknowledged);
        var live = _system.Gateways.First(g => g.Process.IsRunning);
        using var api = new ApiClient(live.BaseAddress);
        foreach (var id in acknowledged)
        {
            using var response = await api.Http.GetAsync(new Uri($"/api/posts/{id}", UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"acknowledged post {id} is not readable: {(int)response.StatusCode}");
        }

        var clock = Stopwatch.StartNew();
        foreach (var client in _clients)
        {
            await client.WaitForAsync(acknowledged, Recovery);
        }

        var converged = clock.Elapsed;
        var expected = acknowledged.Count * _clients.Count;
        var received = _clients.Sum(c => c.Ids.Count(acknowledged.Contains));
        foreach (var client in _clients)
        {
            Assert.Empty(client.Violations);
            var ids = client.Ids;
            Assert.Equal(ids.Count, ids.Distinct().Count());
        }

        Assert.Equal(expected, received);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{scenario}. {load.Summary()}. Deliveries of acknowledged posts expected {expected}, received {received}, " +
            $"duplicates 0, gaps 0; reconnects {_clients.Sum(c => c.Reconnects)}; all clients complete {converged.TotalSeconds:F1} s after the load stopped.");
        Console.WriteLine($"[figures] {scenario}: {load.Summary()}; deliveries {received}/{expected}; reconnects {_clients.Sum(c => c.Reconnects)}");
    }
}
