using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace BookShelf.Gateway.Tests;

/// <summary>Signing out and revoking a token end them everywhere; behind a known proxy the client is who the proxy says.</summary>
[Collection(GatewayCollection.Name)]
public sealed class SessionTests(GatewayFixture fixture)
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task ACopyOfTheCookieStopsWorkingOnEveryGatewayAfterSignOut()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        var user = await api.SignUpAndSignInAsync();
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies }) { BaseAddress = fixture.Gateway.BaseAddress };
        var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["Username"] = user, ["Password"] = Password, ["__RequestVerificationToken"] = await Antiforgery.TokenAsync(browser, "/signin", TestContext.Current.CancellationToken) });
        using (var signedIn = await browser.PostAsync(new Uri("/signin", UriKind.Relative), form, TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        }

        var cookie = cookies.GetCookies(fixture.Gateway.BaseAddress)["bookshelf"]!.Value;
        Assert.Equal(HttpStatusCode.OK, await NewPostPageAsync(fixture.OtherGateway, cookie));

        using (var signedOut = await browser.PostAsync(new Uri("/signout", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = await Antiforgery.TokenAsync(browser, "/signout", TestContext.Current.CancellationToken) }), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
        }

        // The copy taken before signing out: refused on both gateways (sent to sign in).
        Assert.Equal(HttpStatusCode.Redirect, await NewPostPageAsync(fixture.Gateway, cookie));
        Assert.Equal(HttpStatusCode.Redirect, await NewPostPageAsync(fixture.OtherGateway, cookie));
    }

    [Fact]
    public async Task RevokedTokenIsRefusedEverywhere()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        await api.SignUpAndSignInAsync();
        using var other = new ApiClient(fixture.OtherGateway.BaseAddress);
        other.Http.DefaultRequestHeaders.Authorization = api.Http.DefaultRequestHeaders.Authorization;
        await other.CreatePostAsync("Before revoking");

        using (var revoked = await api.Http.DeleteAsync(new Uri("/api/tokens/current", UriKind.Relative), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        }

        using var refused = await other.PostJsonAsync("/api/posts", new { title = "After revoking", body = "b" });
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task ASessionCheckedOnceIsAcceptedOnItsLeaseWithoutAskingTheClusterAgain()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        await api.SignUpAndSignInAsync();
        var post = await api.CreatePostAsync("Leased");
        var before = await SessionChecksAsync(fixture.Gateway);
        const int Requests = 10;
        for (var i = 0; i < Requests; i++)
        {
            await api.CommentAsync(post, $"comment {i}");
        }

        // /metrics is rendered at most every 300 ms: wait until it shows all ten checks (before may miss the post's own).
        var after = before;
        await Poll.UntilAsync(async () => (after = await SessionChecksAsync(fixture.Gateway)).Lease + after.Cluster - before.Lease - before.Cluster >= Requests, TimeSpan.FromSeconds(10), "the ten checks counted", cancellationToken: TestContext.Current.CancellationToken);
        var byLease = after.Lease - before.Lease;
        // A lease lasts 5 s, so even a slow machine answers most of the ten from it (without leases: none).
        Assert.True(byLease >= Requests / 2, $"{byLease} checks answered from a lease, {after.Cluster - before.Cluster} by the cluster");
    }

    [Fact]
    public async Task ASignOutOutlastsTheLeaseOfAGatewayThatCannotBeToldAndThatGatewayRefusesTheSessionAfterwards()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        await api.SignUpAndSignInAsync();
        using var other = new ApiClient(fixture.OtherGateway.BaseAddress);
        other.Http.DefaultRequestHeaders.Authorization = api.Http.DefaultRequestHeaders.Authorization;
        // The other gateway checks the session and holds a lease on it ...
        await other.CreatePostAsync("Before revoking");
        var checks = await SessionChecksAsync(fixture.OtherGateway);
        await other.CreatePostAsync("On the lease");
        await Poll.UntilAsync(async () => (await SessionChecksAsync(fixture.OtherGateway)).Lease > checks.Lease, TimeSpan.FromSeconds(10), "the second post accepted on the lease", cancellationToken: TestContext.Current.CancellationToken);

        // ... and hangs, so the user's grain cannot tell it: the revocation is acknowledged once that lease ran out.
        fixture.OtherGateway.Process.Pause();
        try
        {
            using var revoked = await api.Http.DeleteAsync(new Uri("/api/tokens/current", UriKind.Relative), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        }
        finally
        {
            fixture.OtherGateway.Process.Resume();
        }

        using var refused = await other.PostJsonAsync("/api/posts", new { title = "After revoking", body = "b" });
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task BehindAKnownProxyTheCookieIsSecureAndLimitsCountTheForwardedClient()
    {
        var proxied = await fixture.System.StartGatewayAsync(extraArguments: ["--Gateway:KnownProxies:0", "127.0.0.1", "--Gateway:SignUpPermitLimitPerAddress", "2", "--Gateway:SignUpPermitLimit", "100000"]);
        // Limits are counted cluster-wide: client addresses of this run's own.
        var one = $"203.0.113.{Random.Shared.Next(1, 255)}";
        var two = $"198.51.100.{Random.Shared.Next(1, 255)}";
        try
        {
            using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = proxied.BaseAddress };
            async Task<HttpResponseMessage> SignUpAsync(string client)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/accounts") { Content = JsonContent.Create(new { username = "p" + Guid.NewGuid().ToString("N")[..10], password = Password }) };
                request.Headers.Add("X-Forwarded-For", client);
                request.Headers.Add("X-Forwarded-Proto", "https");
                return await http.SendAsync(request, TestContext.Current.CancellationToken);
            }

            Assert.Equal(HttpStatusCode.Created, (await SignUpAsync(one)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await SignUpAsync(one)).StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, (await SignUpAsync(one)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await SignUpAsync(two)).StatusCode);

            // Sign-in through the "proxy" over HTTPS: the cookie is Secure.
            using var api = new ApiClient(fixture.Gateway.BaseAddress);
            using var form = new HttpRequestMessage(HttpMethod.Get, "/signin");
            form.Headers.Add("X-Forwarded-Proto", "https");
            form.Headers.Add("X-Forwarded-For", "198.51.100.10");
            using var page = await http.SendAsync(form, TestContext.Current.CancellationToken);
            var antiforgeryCookie = page.Headers.GetValues("Set-Cookie").First(c => c.StartsWith(".AspNetCore.Antiforgery", StringComparison.Ordinal)).Split(';')[0];
            var token = Antiforgery.TokenIn(await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            var user = "s" + Guid.NewGuid().ToString("N")[..10];
            using (var created = await api.PostJsonAsync("/api/accounts", new { username = user, password = Password }))
            {
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            }

            using var signIn = new HttpRequestMessage(HttpMethod.Post, "/signin")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["Username"] = user, ["Password"] = Password, ["__RequestVerificationToken"] = token }),
            };
            signIn.Headers.Add("X-Forwarded-Proto", "https");
            signIn.Headers.Add("X-Forwarded-For", "198.51.100.10");
            signIn.Headers.Add("Cookie", antiforgeryCookie);
            using var signedIn = await http.SendAsync(signIn, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
            var cookie = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("bookshelf=", StringComparison.Ordinal));
            Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            await proxied.Process.StopAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>The gateway's session checks so far, answered from a lease and by the cluster.</summary>
    private static async Task<(long Lease, long Cluster)> SessionChecksAsync(GatewayNode gateway)
    {
        using var http = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var lines = (await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), TestContext.Current.CancellationToken)).Split('\n');
        long Count(string answeredBy) => lines
            .Where(l => l.StartsWith("bookshelf_gateway_session_checks_total{", StringComparison.Ordinal) && l.Contains($"answered_by=\"{answeredBy}\"", StringComparison.Ordinal))
            .Select(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            .Sum();
        return (Count("lease"), Count("cluster"));
    }

    private static async Task<HttpStatusCode> NewPostPageAsync(GatewayNode gateway, string cookie)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = gateway.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/posts/new");
        request.Headers.Add("Cookie", $"bookshelf={cookie}");
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        return response.StatusCode;
    }
}
