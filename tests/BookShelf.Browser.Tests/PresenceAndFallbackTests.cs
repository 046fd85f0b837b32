namespace BookShelf.Browser.Tests;

/// <summary>
/// Presence and the SSE fallback as readers see them, in real Chromium against the real system: counts across two
/// gateways that rise and fall as pages open and close and drop when a gateway is killed; a page behind a proxy
/// that refuses WebSocket upgrades going live over Server-Sent Events and catching up after its gateway restarts.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class PresenceAndFallbackTests(BrowserFixture fixture)
{
    private GatewayNode First => fixture.System.Gateways[0];

    private GatewayNode Second => fixture.System.Gateways[1];

    [Fact]
    public async Task ReadersOfAPostAreCountedOnEveryGatewayAndAKilledGatewaysReadersDropOut()
    {
        long postId;
        using (var api = new ApiClient(First.BaseAddress))
        {
            await api.SignUpAndSignInAsync();
            postId = await api.CreatePostAsync("Read by several");
        }

        var doomed = await fixture.System.StartGatewayAsync(extraArguments: ["--Gateway:Presence:Lease", "00:00:03", "--Gateway:Presence:RenewInterval", "00:00:01"]);
        try
        {
            await using var first = await BrowserUser.OpenAsync(fixture.Browser);
            await first.GotoAsync(First, $"/posts/{postId}");
            var readers = first.Page.Locator("#readers");
            await Assertions.Expect(readers).ToHaveTextAsync("1 reading now");
            await Assertions.Expect(first.Page.Locator("#online")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^\d+ online$"));

            await using (var second = await BrowserUser.OpenAsync(fixture.Browser))
            {
                await second.GotoAsync(Second, $"/posts/{postId}");
                await Assertions.Expect(second.Page.Locator("#readers")).ToHaveTextAsync("2 reading now");
                await Assertions.Expect(readers).ToHaveTextAsync("2 reading now");
            }

            // The second tab closed: it leaves at once, not after a lease.
            await Assertions.Expect(readers).ToHaveTextAsync("1 reading now");

            var third = await BrowserUser.OpenAsync(fixture.Browser);
            await third.GotoAsync(doomed, $"/posts/{postId}");
            await Assertions.Expect(third.Page.Locator("#readers")).ToHaveTextAsync("2 reading now");
            await Assertions.Expect(readers).ToHaveTextAsync("2 reading now");
            await doomed.Process.KillAsync(); // SIGKILL: no goodbye from that gateway
            await Assertions.Expect(readers).ToHaveTextAsync("1 reading now", new() { Timeout = 15_000 });
            await third.DisposeAsync();
        }
        finally
        {
            await doomed.Process.StopAsync(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task WithWebSocketsBlockedThePageGoesLiveOverSseAndCatchesUpAfterTheGatewayRestarts()
    {
        var gateway = await fixture.System.StartGatewayAsync();
        await using var proxy = UpgradeBlockingProxy.Start(gateway.HttpPort);
        try
        {
            using var api = new ApiClient(First.BaseAddress);
            await api.SignUpAndSignInAsync();
            await using var reader = await BrowserUser.OpenAsync(fixture.Browser);
            var response = await reader.Page.GotoAsync(proxy.BaseAddress.ToString());
            Assert.True(response is { Ok: true }, $"the list page through the proxy answered {response?.Status}");
            await reader.WaitLiveAsync();
            Assert.Equal("sse", await reader.Page.EvaluateAsync<string>("() => document.documentElement.dataset.transport"));
            Assert.True(proxy.Refused >= 2, $"the proxy refused {proxy.Refused} upgrades");
            await reader.MarkDocumentAsync();

            var live = await api.CreatePostAsync("Over SSE");
            await Assertions.Expect(reader.Page.Locator($"#posts > li[data-id='{live}']")).ToHaveCountAsync(1);

            await gateway.Process.KillAsync();
            await Assertions.Expect(reader.LiveStatus).Not.ToHaveAttributeAsync("data-state", "connected");
            var missed = new[] { await api.CreatePostAsync("Missed one"), await api.CreatePostAsync("Missed two") };
            await fixture.System.RestartGatewayAsync(gateway);

            // EventSource reconnects by itself and resumes through Last-Event-ID: both missed posts, once each, in order.
            await reader.WaitLiveAsync(30_000);
            await Assertions.Expect(reader.Page.Locator($"#posts > li[data-id='{missed[1]}']")).ToHaveCountAsync(1);
            var ids = await reader.ListedIdsAsync();
            Assert.Equal([missed[1], missed[0], live], ids[..3]);
            Assert.Single(ids, x => x == live);
            Assert.True(await reader.StillMarkedAsync(), "the page was reloaded instead of resumed");
            Assert.Equal("sse", await reader.Page.EvaluateAsync<string>("() => document.documentElement.dataset.transport"));
        }
        finally
        {
            await gateway.Process.StopAsync(TimeSpan.FromSeconds(5));
        }
    }
}
