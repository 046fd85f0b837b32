using System.Text.RegularExpressions;

namespace BookShelf.Browser.Tests;

/// <summary>
/// The blog as readers use it, in real Chromium: excerpts, live counts and relative times on the list, "N new
/// posts" instead of a jump for a reader who scrolled down, "older posts" paging, author pages, comment times.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed partial class BlogPagesTests(BrowserFixture fixture)
{
    private GatewayNode First => fixture.System.Gateways[0];

    private GatewayNode Second => fixture.System.Gateways[1];

    [Fact]
    public async Task TheListShowsExcerptsRelativeTimesAndCountsThatStayLive()
    {
        using var api = new ApiClient(First.BaseAddress);
        await api.SignUpAndSignInAsync();
        var body = string.Join(' ', Enumerable.Repeat("A long and winding tale of ships and storms.", 12));
        var id = await api.CreatePostAsync("Moby-Dick", body);

        await using var reader = await BrowserUser.OpenAsync(fixture.Browser);
        await reader.GotoAsync(Second);
        await reader.WaitLiveAsync();
        var item = reader.Page.Locator($"#posts > li[data-id='{id}']");
        await Assertions.Expect(item.Locator(".excerpt")).ToHaveTextAsync(new Regex("^A long and winding tale of ships and storms\\..*…$"));
        var time = item.Locator("time");
        await Assertions.Expect(time).ToHaveTextAsync("just now");
        // The exact time on hover, in the reader's local time (the server wrote UTC).
        var title = await time.GetAttributeAsync("title");
        Assert.False(string.IsNullOrEmpty(title) || title.Contains("UTC", StringComparison.Ordinal), $"title '{title}'");

        await reader.MarkDocumentAsync();
        await api.CommentAsync(id, "Call me Ishmael.");
        await api.ToggleLikeAsync(id);
        await Assertions.Expect(item.Locator("[data-comments]")).ToHaveTextAsync("1");
        await Assertions.Expect(item.Locator(".comments-count .word")).ToHaveTextAsync("comment");
        await Assertions.Expect(item.Locator("[data-likes]")).ToHaveTextAsync("1");
        Assert.True(await reader.StillMarkedAsync(), "the list was reloaded instead of updated live");
    }

    [Fact]
    public async Task AReaderWhoScrolledDownSeesNNewPostsInsteadOfTheListJumping()
    {
        using var api = new ApiClient(First.BaseAddress);
        await api.SignUpAndSignInAsync();
        for (var i = 0; i < 20; i++)
        {
            await api.CreatePostAsync($"Filler {i}");
        }

        await using var reader = await BrowserUser.OpenAsync(fixture.Browser, 1280, 600);
        await reader.GotoAsync(Second);
        await reader.WaitLiveAsync();
        await reader.Page.EvaluateAsync("() => window.scrollTo(0, document.body.scrollHeight)");
        await Assertions.Expect(reader.Page.Locator("#posts")).Not.ToBeInViewportAsync(new() { Ratio = 1 });
        var before = await reader.ListedIdsAsync();
        var scrolled = await reader.Page.EvaluateAsync<double>("() => window.scrollY");

        var fresh = new[] { await api.CreatePostAsync("Fresh one"), await api.CreatePostAsync("Fresh two") };
        var button = reader.Page.Locator("#new-posts");
        await Assertions.Expect(button).ToHaveTextAsync("2 new posts");
        await Assertions.Expect(button).ToBeVisibleAsync();
        Assert.Equal(before, await reader.ListedIdsAsync());
        Assert.Equal(scrolled, await reader.Page.EvaluateAsync<double>("() => window.scrollY"));

        await button.ClickAsync();
        await Assertions.Expect(button).ToBeHiddenAsync();
        var after = await reader.ListedIdsAsync();
        Assert.Equal([fresh[1], fresh[0], before[0]], after[..3]);
        // Focus moves to the newest post shown, for keyboard and screen-reader users.
        Assert.Equal(fresh[1].ToString(System.Globalization.CultureInfo.InvariantCulture), await reader.Page.EvaluateAsync<string>("() => document.activeElement?.dataset?.id ?? ''"));
    }

    [Fact]
    public async Task OlderPostsPageOnAndAnAuthorsPageListsOnlyTheirPosts()
    {
        using var author = new ApiClient(First.BaseAddress);
        var name = await author.SignUpAndSignInAsync();
        var mine = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            mine.Add(await author.CreatePostAsync($"By one author {i}"));
        }

        using (var other = new ApiClient(First.BaseAddress))
        {
            await other.SignUpAndSignInAsync();
            for (var i = 0; i < 21; i++)
            {
                await other.CreatePostAsync($"Someone else {i}");
            }
        }

        await using var reader = await BrowserUser.OpenAsync(fixture.Browser);
        await reader.GotoAsync(Second);
        var firstPage = await SeqsAsync(reader.Page);
        Assert.Equal(20, firstPage.Length);
        await reader.Page.GetByRole(AriaRole.Link, new() { Name = "Older posts →" }).ClickAsync();
        await Assertions.Expect(reader.Page).ToHaveURLAsync(new Regex(@"\?before=\d+$"));
        var secondPage = await SeqsAsync(reader.Page);
        Assert.NotEmpty(secondPage);
        Assert.True(secondPage.Max() < firstPage.Min(), "the older page repeats or skips ahead");
        Assert.Equal(secondPage.OrderDescending(), secondPage);

        // The author's post is on the second page now: its author is a link to their page.
        await reader.Page.Locator($"#posts > li[data-id='{mine[^1]}'] a.author").ClickAsync();
        await Assertions.Expect(reader.Page).ToHaveURLAsync(new Regex($"/authors/{name}$"));
        await Assertions.Expect(reader.Page.Locator("h1")).ToHaveTextAsync($"Posts by {name}");
        Assert.Equal([mine[2], mine[1], mine[0]], await reader.ListedIdsAsync());
        await Assertions.Expect(reader.Page.Locator("#posts .author")).ToHaveTextAsync([name, name, name]);
    }

    [Fact]
    public async Task APostsPageShowsCommentTimesAndLinksItsAuthor()
    {
        using var api = new ApiClient(First.BaseAddress);
        var name = await api.SignUpAndSignInAsync();
        var id = await api.CreatePostAsync("Timed comments");
        await api.CommentAsync(id, "Before the page opened.");

        await using var reader = await BrowserUser.OpenAsync(fixture.Browser);
        await reader.GotoAsync(Second, $"/posts/{id}");
        await reader.WaitLiveAsync();
        await Assertions.Expect(reader.Page.Locator("#comments > li time")).ToHaveTextAsync(["just now"]);
        await api.CommentAsync(id, "After.");
        await Assertions.Expect(reader.Page.Locator("#comments > li time")).ToHaveTextAsync(["just now", "just now"]);
        await Assertions.Expect(reader.Page.Locator(".post-page > .meta a.author")).ToHaveAttributeAsync("href", $"/authors/{name}");
    }

    private static async Task<long[]> SeqsAsync(IPage page) =>
        [.. (await page.Locator("#posts > li").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.seq)")).Select(long.Parse)];
}
