namespace BookShelf.Browser.Tests;

/// <summary>The list page on a phone and on a laptop: screenshots as artifacts, nothing wider than the screen.</summary>
[Collection(BrowserCollection.Name)]
public sealed class LayoutTests(BrowserFixture fixture)
{
    [Theory]
    [InlineData("phone", 390, 844)]
    [InlineData("laptop", 1280, 800)]
    public async Task ListPageFitsTheScreen(string device, int width, int height)
    {
        var gateway = fixture.System.Gateways[0];
        using (var api = new ApiClient(gateway.BaseAddress))
        {
            await api.SignUpAndSignInAsync("reader" + Guid.NewGuid().ToString("N")[..20]);
            await api.CreatePostAsync("Gödel, Escher, Bach: an Eternal Golden Braid");
            await api.CreatePostAsync("Averyveryveryveryveryveryveryverylongwordwithoutanyspacesthatmustwrapinsteadofoverflowing", "Long words must wrap.");
            await api.CreatePostAsync("Piranesi");
        }

        await using var user = await BrowserUser.OpenAsync(fixture.Browser, width, height);
        await user.SignUpAsync(gateway);
        await user.WaitLiveAsync();
        await Assertions.Expect(user.Page.Locator("#posts > li")).Not.ToHaveCountAsync(0);

        var path = Path.Combine(fixture.Artifacts, $"list-{device}.png");
        await user.Page.ScreenshotAsync(new() { Path = path, FullPage = true });
        Assert.True(new FileInfo(path).Length > 0, $"screenshot {path}");
        TestContext.Current.AddAttachment($"list-{device}", path);

        var overflowing = await user.Page.EvaluateAsync<string[]>("""
            () => {
              const width = document.documentElement.clientWidth;
              const wide = [...document.querySelectorAll('body *')]
                .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > width + 0.5 || r.left < -0.5); })
                .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className} right=${Math.round(e.getBoundingClientRect().right)}`);
              if (document.documentElement.scrollWidth > width) wide.push(`document scrollWidth=${document.documentElement.scrollWidth}`);
              return wide;
            }
            """);
        Assert.True(overflowing.Length == 0, $"wider than the {width} px viewport: {string.Join("; ", overflowing)}");
    }
}
