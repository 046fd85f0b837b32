using System.Text.RegularExpressions;

namespace BookShelf.Browser.Tests;

/// <summary>One person in the browser: an isolated browser context (own cookies) with one page.</summary>
public sealed partial class BrowserUser : IAsyncDisposable
{
    /// <summary>Every account created through the pages has this password.</summary>
    public const string Password = "correct horse battery";

    private BrowserUser(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
    }

    /// <summary>The browser context.</summary>
    public IBrowserContext Context { get; }

    /// <summary>The page.</summary>
    public IPage Page { get; }

    /// <summary>The user name, once signed up.</summary>
    public string? Name { get; private set; }

    /// <summary>A fresh person in <paramref name="browser"/> with a window of the given size.</summary>
    public static async Task<BrowserUser> OpenAsync(IBrowser browser, int width = 1280, int height = 800)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        context.SetDefaultTimeout(20_000);
        context.SetDefaultNavigationTimeout(20_000);
        return new BrowserUser(context, await context.NewPageAsync());
    }

    /// <summary>The live-status badge.</summary>
    public ILocator LiveStatus => Page.Locator("#live-status");

    /// <summary>Opens <paramref name="path"/> on <paramref name="gateway"/>.</summary>
    public async Task GotoAsync(GatewayNode gateway, string path = "/")
    {
        var response = await Page.GotoAsync(new Uri(gateway.BaseAddress, path).ToString());
        Assert.True(response is { Ok: true }, $"GET {path} answered {response?.Status}");
    }

    /// <summary>Waits until the page's live connection is up.</summary>
    public Task WaitLiveAsync(float timeoutMs = 20_000) =>
        Assertions.Expect(LiveStatus).ToHaveAttributeAsync("data-state", "connected", new() { Timeout = timeoutMs });

    /// <summary>Signs up through the form (which signs the new user in).</summary>
    public async Task SignUpAsync(GatewayNode gateway)
    {
        Name = "b" + Guid.NewGuid().ToString("N")[..12];
        await GotoAsync(gateway, "/signup");
        await Page.Locator("#username").FillAsync(Name);
        await Page.Locator("#password").FillAsync(Password);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();
        await WaitForUrlAsync(new Uri(gateway.BaseAddress, "/").ToString(), "the list page after signing up");
        await Assertions.Expect(Page.Locator(".who")).ToHaveTextAsync(Name);
    }

    /// <summary>Signs out, then in again through the sign-in form.</summary>
    public async Task SignOutAndInAsync(GatewayNode gateway)
    {
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Link, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await GotoAsync(gateway, "/signin");
        await Page.Locator("#username").FillAsync(Name!);
        await Page.Locator("#password").FillAsync(Password);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(Page.Locator(".who")).ToHaveTextAsync(Name!);
    }

    /// <summary>Publishes a post through the new-post form; returns its id (from the page it lands on).</summary>
    public async Task<long> CreatePostAsync(GatewayNode gateway, string title, string body = "Read it twice.")
    {
        await GotoAsync(gateway, "/posts/new");
        await Page.Locator("#title").FillAsync(title);
        await Page.Locator("#body").FillAsync(body);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await WaitForUrlAsync(PostUrl(), $"the page of the new post '{title}'");
        return long.Parse(PostUrl().Match(Page.Url).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Waits for a navigation to <paramref name="url"/>; on timeout says where the page is and what it shows.</summary>
    private async Task WaitForUrlAsync(object url, string what)
    {
        try
        {
            // Polls the page's URL (an auto-retrying assertion) instead of waiting for a navigation event: twice in CI
            // runs the list page was there, rendered, at the very URL, and the wait for its navigation (for "load",
            // then even for "commit") still timed out. What the page shows is then checked with assertions too.
            if (url is Regex pattern)
            {
                await Assertions.Expect(Page).ToHaveURLAsync(pattern, new() { Timeout = 20_000 });
            }
            else
            {
                await Assertions.Expect(Page).ToHaveURLAsync((string)url, new() { Timeout = 20_000 });
            }
        }
        catch (Exception ex) when (ex is TimeoutException or PlaywrightException)
        {
            var text = await Page.Locator("body").InnerTextAsync(new() { Timeout = 2_000 });
            throw new TimeoutException($"Timed out waiting for {what}: the page is {Page.Url} showing: {text[..Math.Min(text.Length, 500)]}", ex);
        }
    }

    /// <summary>The ids of the list page's posts, top to bottom.</summary>
    public async Task<long[]> ListedIdsAsync() =>
        [.. (await Page.Locator("#posts > li").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.id)")).Select(long.Parse)];

    /// <summary>
    /// Shows <paramref name="html"/> as a page of <paramref name="origin"/>: loads a real response from that server
    /// (so the browser knows the page's origin and address), then replaces the document with the test page.
    /// </summary>
    public async Task ShowPageAsync(Uri origin, string html)
    {
        var response = await Page.GotoAsync(new Uri(origin, "/healthz").ToString());
        Assert.True(response is { Ok: true }, $"{origin}healthz answered {response?.Status}");
        await Page.SetContentAsync(html);
    }

    /// <summary>Marks the current document, so a later check can tell it was not reloaded.</summary>
    public Task MarkDocumentAsync() => Page.EvaluateAsync("() => { window.__bookshelfMark = 'unchanged'; }");

    /// <summary>Whether the document marked by <see cref="MarkDocumentAsync"/> is still the one shown.</summary>
    public async Task<bool> StillMarkedAsync() => await Page.EvaluateAsync<string?>("() => window.__bookshelfMark ?? null") == "unchanged";

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await Context.DisposeAsync();

    [GeneratedRegex(@"/posts/([0-9]+)$")]
    private static partial Regex PostUrl();
}
