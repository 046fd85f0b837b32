namespace BookShelf.Browser.Tests;

/// <summary>What people see on the live pages, in real Chromium against the real system.</summary>
[Collection(BrowserCollection.Name)]
public sealed class LivePagesTests(BrowserFixture fixture)
{
    private GatewayNode First => fixture.System.Gateways[0];

    private GatewayNode Second => fixture.System.Gateways[1];

    [Fact]
    public async Task PostFromOneGatewayAppearsOnceAtTheTopOfAnotherGatewaysListAsText()
    {
        await using var reader = await BrowserUser.OpenAsync(fixture.Browser);
        await reader.GotoAsync(Second);
        await reader.WaitLiveAsync();
        await reader.MarkDocumentAsync();

        await using var writer = await BrowserUser.OpenAsync(fixture.Browser);
        await writer.SignUpAsync(First);
        await writer.SignOutAndInAsync(First);
        const string title = "Dune <img src=x onerror=\"window.__injected = true\">";
        var id = await writer.CreatePostAsync(First, title);

        var item = reader.Page.Locator($"#posts > li[data-id='{id}']");
        await Assertions.Expect(item).ToHaveCountAsync(1);
        Assert.Equal(id, (await reader.ListedIdsAsync())[0]);
        await Assertions.Expect(item.Locator(".title")).ToHaveTextAsync(title);
        await Assertions.Expect(item.Locator(".author")).ToHaveTextAsync(writer.Name!);

        // A later post is a barrier: once it is shown, a repeat of the first would have been too.
        var later = await writer.CreatePostAsync(First, "A later post");
        await Assertions.Expect(reader.Page.Locator($"#posts > li[data-id='{later}']")).ToHaveCountAsync(1);
        var ids = await reader.ListedIdsAsync();
        Assert.Equal([later, id], ids[..2]);
        Assert.Single(ids, x => x == id);

        // Shown as text: no element was made from the title and nothing in it ran.
        Assert.Equal(0, await reader.Page.Locator("#posts img").CountAsync());
        Assert.False(await reader.Page.EvaluateAsync<bool>("() => window.__injected === true"), "the title's markup ran");
        Assert.True(await reader.StillMarkedAsync(), "the list page was reloaded instead of updated live");
    }

    [Fact]
    public async Task CommentsAndLikesAppearLiveOnThePostPage()
    {
        await using var writer = await BrowserUser.OpenAsync(fixture.Browser);
        await writer.SignUpAsync(First);
        var id = await writer.CreatePostAsync(First, "The Left Hand of Darkness");

        await using var reader = await BrowserUser.OpenAsync(fixture.Browser);
        await reader.GotoAsync(Second, $"/posts/{id}");
        await reader.WaitLiveAsync();
        await reader.MarkDocumentAsync();
        await Assertions.Expect(reader.Page.Locator("#like-count")).ToHaveTextAsync("0");

        // The writer is on the post's page after publishing: comment, then like.
        const string comment = "Genly Ai's journey across the ice <b>stays</b> with you.";
        await writer.Page.Locator("#text").FillAsync(comment);
        await writer.Page.GetByRole(AriaRole.Button, new() { Name = "Comment" }).ClickAsync();
        await Assertions.Expect(writer.Page.Locator("#comments .text")).ToHaveTextAsync([comment]);
        await writer.Page.Locator("#like-button").ClickAsync();
        await Assertions.Expect(writer.Page.Locator("#like-count")).ToHaveTextAsync("1");

        await Assertions.Expect(reader.Page.Locator("#comments > li .text")).ToHaveTextAsync([comment]);
        await Assertions.Expect(reader.Page.Locator("#comments > li .author")).ToHaveTextAsync([writer.Name!]);
        await Assertions.Expect(reader.Page.Locator("#like-count")).ToHaveTextAsync("1");
        Assert.Equal(0, await reader.Page.Locator("#comments b").CountAsync());
        Assert.True(await reader.StillMarkedAsync(), "the post page was reloaded instead of updated live");
    }

    [Fact]
    public async Task PageWhoseGatewayDiesShowsReconnectingThenCatchesUpWithExactlyTheMissedPostsInOrder()
    {
        await using var writer = await BrowserUser.OpenAsync(fixture.Browser);
        await writer.SignUpAsync(First);
        var before = await writer.CreatePostAsync(First, "Before the outage");

        await using var reader = await BrowserUser.OpenAsync(fixture.Browser);
        await reader.GotoAsync(Second);
        await reader.WaitLiveAsync();
        await Assertions.Expect(reader.Page.Locator($"#posts > li[data-id='{before}']")).ToHaveCountAsync(1);
        await reader.MarkDocumentAsync();

        await Second.Process.KillAsync();
        await Assertions.Expect(reader.LiveStatus).ToHaveAttributeAsync("data-state", "reconnecting");

        long[] missed = [
            await writer.CreatePostAsync(First, "Missed one"),
            await writer.CreatePostAsync(First, "Missed two"),
            await writer.CreatePostAsync(First, "Missed three"),
        ];
        await fixture.System.RestartGatewayAsync(Second);

        // Backoff with full jitter: the next attempt may be up to half a minute away.
        await reader.WaitLiveAsync(60_000);
        await Assertions.Expect(reader.Page.Locator($"#posts > li[data-id='{missed[^1]}']")).ToHaveCountAsync(1);
        var ids = await reader.ListedIdsAsync();
        Assert.Equal([missed[2], missed[1], missed[0], before], ids[..4]);
        Assert.Equal(ids.Length, ids.Distinct().Count());
        Assert.True(await reader.StillMarkedAsync(), "the page reloaded instead of catching up");
    }

    [Fact]
    public async Task OriginalBookShelfPageScriptReceivesTheIds()
    {
        // The seed's page script, unchanged, as a page of the gateway's origin.
        const string seedPage = """
            <!DOCTYPE html>
            <html><body>
            <ul id="notices"></ul>
            <script>
              var updateSocket = new WebSocket('ws://' + window.location.host + '/ws/update_notice/');
              updateSocket.onopen = function () { document.body.dataset.socket = 'open'; };
              updateSocket.onmessage = function (e) {
                var new_id = JSON.parse(e.data).new_id;
                var li = document.createElement('li');
                li.textContent = 'New post ' + new_id;
                document.getElementById('notices').appendChild(li);
              };
            </script>
            </body></html>
            """;
        await using var reader = await BrowserUser.OpenAsync(fixture.Browser);
        await reader.ShowPageAsync(First.BaseAddress, seedPage);
        await Assertions.Expect(reader.Page.Locator("body")).ToHaveAttributeAsync("data-socket", "open");

        using var api = new ApiClient(Second.BaseAddress);
        await api.SignUpAndSignInAsync();
        var first = await api.CreatePostAsync("Seed one");
        var second = await api.CreatePostAsync("Seed two");

        // Exactly the two ids, in order: no notice for anything that is not a post.
        await Assertions.Expect(reader.Page.Locator("#notices > li")).ToHaveTextAsync([$"New post {first}", $"New post {second}"]);
    }

    [Fact]
    public async Task NewPostFormSendsAnonymousVisitorsToSignInAndRefusesAForgedPost()
    {
        await using var visitor = await BrowserUser.OpenAsync(fixture.Browser);
        await visitor.Page.GotoAsync(new Uri(First.BaseAddress, "/posts/new").ToString());
        Assert.Equal("/signin", new Uri(visitor.Page.Url).AbsolutePath);
        Assert.Contains("ReturnUrl=%2Fposts%2Fnew", new Uri(visitor.Page.Url).Query, StringComparison.Ordinal);
        await Assertions.Expect(visitor.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" })).ToBeVisibleAsync();

        // A signed-in user visits another site whose page posts the gateway's form without the antiforgery token.
        await using var victim = await BrowserUser.OpenAsync(fixture.Browser);
        await victim.SignUpAsync(First);
        var forgedTitle = "Forged " + Guid.NewGuid().ToString("N")[..8];
        // The other site is the silo's health port: another origin on this machine.
        var elsewhere = new Uri($"http://127.0.0.1:{fixture.System.Silos[0].HttpPort}/");
        var forged = await victim.Page.RunAndWaitForResponseAsync(
            () => victim.ShowPageAsync(elsewhere, $"""
                <!DOCTYPE html><html><body>
                <form id="f" method="post" action="{new Uri(First.BaseAddress, "/posts/new")}">
                  <input name="Title" value="{forgedTitle}"><input name="Body" value="sent by another site">
                </form>
                <script>document.getElementById('f').submit();</script>
                </body></html>
                """),
            response => response.Request.Method == "POST" && response.Url.EndsWith("/posts/new", StringComparison.Ordinal));
        Assert.Equal(400, forged.Status);

        // Nothing was created.
        using var api = new ApiClient(First.BaseAddress);
        var titles = (await api.GetJsonAsync("/api/posts?limit=100"))!["items"]!.AsArray().Select(p => (string?)p!["title"]);
        Assert.DoesNotContain(forgedTitle, titles);
    }

    [Fact]
    public async Task PageFromAnotherOriginCannotOpenTheWebSocket()
    {
        var socketUrl = First.WebSocketUri().ToString();
        var probe = $$"""
            <!DOCTYPE html><html><body>
            <script>
              var s = new WebSocket('{{socketUrl}}');
              s.onopen = function () { document.body.dataset.result = 'open'; };
              s.onclose = function () { if (!document.body.dataset.result) document.body.dataset.result = 'refused'; };
            </script>
            </body></html>
            """;
        await using var user = await BrowserUser.OpenAsync(fixture.Browser);
        var socketRequests = new List<string>();
        var socketErrors = new List<string>();
        user.Page.WebSocket += (_, socket) =>
        {
            socketRequests.Add(socket.Url);
            socket.SocketError += (_, error) => socketErrors.Add(error);
        };

        // Another origin on this machine (the silo's health port) may not open it.
        await user.ShowPageAsync(new Uri($"http://127.0.0.1:{fixture.System.Silos[0].HttpPort}/"), probe);
        await Assertions.Expect(user.Page.Locator("body")).ToHaveAttributeAsync("data-result", "refused");
        Assert.Equal([socketUrl], socketRequests);
        Assert.Contains(socketErrors, e => e.Contains("403", StringComparison.Ordinal));

        // The same page as a page of the gateway's own origin connects: the origin is what was refused.
        await user.ShowPageAsync(First.BaseAddress, probe);
        await Assertions.Expect(user.Page.Locator("body")).ToHaveAttributeAsync("data-result", "open");
    }
}
