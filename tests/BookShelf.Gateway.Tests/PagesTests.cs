using System.Net.Http.Json;

namespace BookShelf.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class PagesTests(GatewayFixture fixture)
{
    [Fact]
    public async Task NewPostFormRedirectsAnonymousVisitorsToSignIn()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fixture.Gateway.BaseAddress };
        using var response = await http.GetAsync(new Uri("/posts/new", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/signin", response.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        Assert.Contains("ReturnUrl=%2Fposts%2Fnew", response.Headers.Location.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignedInFormPostsNeedTheAntiforgeryToken()
    {
        var (http, _) = await SignInWithFormAsync();
        using (http)
        {
            var forged = new FormUrlEncodedContent(new Dictionary<string, string> { ["Title"] = "Forged", ["Body"] = "no token" });
            using var refused = await http.PostAsync(new Uri("/posts/new", UriKind.Relative), forged, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

            var token = await Antiforgery.TokenAsync(http, "/posts/new", TestContext.Current.CancellationToken);
            var real = new FormUrlEncodedContent(new Dictionary<string, string> { ["Title"] = "Через форму <script>x</script>", ["Body"] = "with token", ["__RequestVerificationToken"] = token });
            using var created = await http.PostAsync(new Uri("/posts/new", UriKind.Relative), real, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
            var location = created.Headers.Location!.OriginalString;
            Assert.Matches("^/posts/[0-9]+$", location);

            var page = await http.GetStringAsync(new Uri(location, UriKind.Relative), TestContext.Current.CancellationToken);
            Assert.Contains("&lt;script&gt;x&lt;/script&gt;", page, StringComparison.Ordinal);
            Assert.DoesNotContain("<script>x</script>", page, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ListPageRendersUserTextAsText()
    {
        using var api = await fixture.SignedInClientAsync();
        await api.CreatePostAsync("<img src=x onerror=alert(1)>");
        using var http = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
        var html = await http.GetStringAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);
        Assert.Contains("data-live-group=\"site\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PagesCarryACspWithoutInlineScriptAndRefuseFramingAndSniffing()
    {
        using var http = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
        using var page = await http.GetAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken);
        var csp = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        var html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotMatch(@"<script(?![^>]*\bsrc=)", html);
    }

    [Fact]
    public async Task SignInCookieAloneCannotWriteThroughTheApi()
    {
        // A cross-site form post carries the cookie: it must not toggle a like, comment or post.
        using var author = await fixture.SignedInClientAsync();
        var id = await author.CreatePostAsync("Not to be liked by a forged form");
        var (http, _) = await SignInWithFormAsync();
        using (http)
        {
            foreach (var (path, fields) in new[] { ($"/api/posts/{id}/likes", new Dictionary<string, string>()), ($"/api/posts/{id}/comments", new Dictionary<string, string> { ["text"] = "forged" }), ("/api/posts", new Dictionary<string, string> { ["title"] = "forged", ["body"] = "forged" }) })
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(fields) };
                request.Headers.Add("Origin", "https://evil.example");
                using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
                // A body the endpoint cannot read is refused before anything else (415); otherwise the cookie is not enough (401).
                Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.UnsupportedMediaType });
            }

            // Even with the content type right, the cookie alone does not authorize an API write.
            using var json = await http.PostAsJsonAsync($"/api/posts/{id}/comments", new { text = "forged" }, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Unauthorized, json.StatusCode);
        }

        var post = (await author.GetJsonAsync($"/api/posts/{id}"))!;
        Assert.Equal(0, post["like_count"]!.GetValue<int>());
        Assert.Equal(0, post["comment_count"]!.GetValue<int>());
    }

    private async Task<(HttpClient Http, string User)> SignInWithFormAsync()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        var user = await api.SignUpAndSignInAsync();
        var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true }) { BaseAddress = fixture.Gateway.BaseAddress };
        var token = await Antiforgery.TokenAsync(http, "/signin", TestContext.Current.CancellationToken);
        var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["Username"] = user, ["Password"] = "correct horse battery", ["__RequestVerificationToken"] = token });
        using var signedIn = await http.PostAsync(new Uri("/signin", UriKind.Relative), form, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        return (http, user);
    }
}
