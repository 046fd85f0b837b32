using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;

namespace BookShelf.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class ApiTests(GatewayFixture fixture)
{
    private HttpClient NewHttp() => new() { BaseAddress = fixture.Gateway.BaseAddress };

    [Fact]
    public async Task SignUpTokenAndCreateReadAPost()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        var user = await api.SignUpAndSignInAsync();
        var id = await api.CreatePostAsync("The Left Hand of Darkness", "Ambisexual Gethenians.");
        Assert.InRange(id, 1, (1L << 53) - 1);

        // Readable through either gateway; a token from one gateway works on the other.
        using var other = new ApiClient(fixture.OtherGateway.BaseAddress);
        other.Http.DefaultRequestHeaders.Authorization = api.Http.DefaultRequestHeaders.Authorization;
        var post = (await other.GetJsonAsync($"/api/posts/{id}"))!.AsObject();
        Assert.Equal(id, post["id"]!.GetValue<long>());
        Assert.Equal(user, (string?)post["author"]);
        Assert.Equal("The Left Hand of Darkness", (string?)post["title"]);
        Assert.Equal("Ambisexual Gethenians.", (string?)post["body"]);
        Assert.Equal(0, post["like_count"]!.GetValue<int>());
        Assert.NotNull(post["created_at"]);
        Assert.Equal(1, await other.ToggleLikeAsync(id));
    }

    [Fact]
    public async Task SignUpRejectsBadInputAndTakenNames()
    {
        using var http = NewHttp();
        using var bad = await http.PostAsJsonAsync("/api/accounts", new { username = "a b", password = "short" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await ApiClient.ProblemAsync(bad);
        Assert.NotNull(problem["errors"]!["username"]);
        Assert.NotNull(problem["errors"]!["password"]);

        var name = "taken" + Guid.NewGuid().ToString("N")[..8];
        using var first = await http.PostAsJsonAsync("/api/accounts", new { username = name, password = "long enough" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        using var again = await http.PostAsJsonAsync("/api/accounts", new { username = name.ToUpperInvariant(), password = "long enough" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(409, (await ApiClient.ProblemAsync(again))["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task WrongPasswordGets401AndNoToken()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        var user = await api.SignUpAndSignInAsync();
        using var http = NewHttp();
        using var wrong = await http.PostAsJsonAsync("/api/tokens", new { username = user, password = "not the password" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Null((await ApiClient.ProblemAsync(wrong))["token"]);
    }

    [Fact]
    public async Task UnauthenticatedOrBadTokenWritesGet401AndChangeNothing()
    {
        using var api = await fixture.SignedInClientAsync();
        var id = await api.CreatePostAsync("Guarded");
        using var http = NewHttp();
        var before = (await api.GetJsonAsync("/api/posts?limit=1"))!["items"]![0]!["seq"]!.GetValue<long>();

        using var anonymousPost = await http.PostAsJsonAsync("/api/posts", new { title = "x", body = "y" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousPost.StatusCode);
        Assert.Equal(401, (await ApiClient.ProblemAsync(anonymousPost))["status"]!.GetValue<int>());
        using var anonymousComment = await http.PostAsJsonAsync($"/api/posts/{id}/comments", new { text = "x" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousComment.StatusCode);
        using var anonymousLike = await http.PostAsync(new Uri($"/api/posts/{id}/likes", UriKind.Relative), null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousLike.StatusCode);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "forged-token");
        using var forged = await http.PostAsJsonAsync("/api/posts", new { title = "x", body = "y" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);

        var after = (await api.GetJsonAsync("/api/posts?limit=1"))!["items"]![0]!["seq"]!.GetValue<long>();
        Assert.Equal(before, after);
        var post = (await api.GetJsonAsync($"/api/posts/{id}"))!;
        Assert.Equal(0, post["like_count"]!.GetValue<int>());
        Assert.Equal(0, post["comment_count"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("""{"title":"","body":"b"}""", "title")]
    [InlineData("""{"body":"b"}""", "title")]
    [InlineData("""{"title":"t","body":"   "}""", "body")]
    public async Task InvalidPostGetsFieldErrors(string json, string field)
    {
        using var api = await fixture.SignedInClientAsync();
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await api.Http.PostAsync(new Uri("/api/posts", UriKind.Relative), content, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotNull((await ApiClient.ProblemAsync(response))["errors"]![field]);
    }

    [Fact]
    public async Task OversizedTitleAndMalformedJsonAreRejected()
    {
        using var api = await fixture.SignedInClientAsync();
        using var oversized = await api.PostJsonAsync("/api/posts", new { title = new string('t', 201), body = "b" });
        Assert.Equal(HttpStatusCode.BadRequest, oversized.StatusCode);
        Assert.NotNull((await ApiClient.ProblemAsync(oversized))["errors"]!["title"]);

        using var content = new StringContent("{\"title\": ", Encoding.UTF8, "application/json");
        using var malformed = await api.Http.PostAsync(new Uri("/api/posts", UriKind.Relative), content, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(400, (await ApiClient.ProblemAsync(malformed))["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task UnknownPostIs404()
    {
        using var api = await fixture.SignedInClientAsync();
        using var get = await api.Http.GetAsync(new Uri("/api/posts/987654321", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(404, (await ApiClient.ProblemAsync(get))["status"]!.GetValue<int>());
        using var comment = await api.PostJsonAsync("/api/posts/987654321/comments", new { text = "hi" });
        Assert.Equal(HttpStatusCode.NotFound, comment.StatusCode);
        using var like = await api.Http.PostAsync(new Uri("/api/posts/987654321/likes", UriKind.Relative), null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, like.StatusCode);
    }

    [Fact]
    public async Task ListIsNewestFirstAndPages()
    {
        using var api = await fixture.SignedInClientAsync();
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await api.CreatePostAsync($"Paged {i}"));
        }

        var first = (await api.GetJsonAsync("/api/posts?limit=3"))!;
        var items = first["items"]!.AsArray();
        Assert.Equal([ids[4], ids[3], ids[2]], items.Select(i => i!["id"]!.GetValue<long>()));
        var next = first["next_before"]!.GetValue<long>();
        var second = (await api.GetJsonAsync($"/api/posts?limit=2&before={next}"))!;
        Assert.Equal([ids[1], ids[0]], second["items"]!.AsArray().Select(i => i!["id"]!.GetValue<long>()));
        var seqs = items.Concat(second["items"]!.AsArray()).Select(i => i!["seq"]!.GetValue<long>()).ToList();
        Assert.Equal(seqs.OrderByDescending(s => s), seqs);

        using var bad = await api.Http.GetAsync(new Uri("/api/posts?limit=1000", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task LikesToggleOncePerUserAndCommentsAndLikesNotifyThePostGroup()
    {
        using var author = await fixture.SignedInClientAsync();
        using var reader = await fixture.SignedInClientAsync();
        var id = await author.CreatePostAsync("Notify me");
        var group = $"post-{id}";
        await using var socket = await FeedSocket.ConnectAsync(fixture.OtherGateway.WebSocketUri($"?groups={group}"), cancellationToken: TestContext.Current.CancellationToken);
        await socket.WaitForAsync(f => f.Any(x => (string?)x["type"] == "subscribed"), "subscription");

        Assert.Equal(1, await reader.ToggleLikeAsync(id));
        Assert.Equal(2, await author.ToggleLikeAsync(id));
        Assert.Equal(1, await reader.ToggleLikeAsync(id));
        var commentId = await reader.CommentAsync(id, "Loved it <b>really</b>");

        await socket.WaitForEventsAsync(group, 4, "three like changes and a comment");
        var events = socket.Events(group);
        Assert.Equal(["like", "like", "like", "comment"], events.Select(e => (string?)e["type"]));
        Assert.Equal([1, 2, 1], events.Take(3).Select(e => e["like_count"]!.GetValue<int>()));
        Assert.Equal(commentId, events[3]["comment_id"]!.GetValue<long>());
        Assert.Equal("Loved it <b>really</b>", (string?)events[3]["text"]);

        var comments = (await author.GetJsonAsync($"/api/posts/{id}/comments"))!.AsArray();
        Assert.Equal(reader.User, (string?)comments.Single()!["author"]);
        Assert.Equal(1, (await author.GetJsonAsync($"/api/posts/{id}"))!["like_count"]!.GetValue<int>());
    }

    [Fact]
    public async Task SignInAttemptsAreRateLimitedPerUser()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        var user = await api.SignUpAndSignInAsync(); // used one attempt
        using var http = NewHttp();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < GatewayFixture.SignInLimit; i++)
        {
            using var response = await http.PostAsJsonAsync("/api/tokens", new { username = user, password = "wrong password" }, TestContext.Current.CancellationToken);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, GatewayFixture.SignInLimit - 1).Append(HttpStatusCode.TooManyRequests), statuses);
        // Even the right password is refused until the window passes.
        using var right = await http.PostAsJsonAsync("/api/tokens", new { username = user, password = "correct horse battery" }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.True(right.Headers.RetryAfter is not null);
    }

    [Fact]
    public async Task WritesAreRateLimitedPerUser()
    {
        using var api = await fixture.SignedInClientAsync();
        var id = await api.CreatePostAsync("Rate limited");
        for (var i = 1; i < GatewayFixture.WriteLimit; i++)
        {
            await api.CommentAsync(id, $"comment {i}");
        }

        using var refused = await api.PostJsonAsync($"/api/posts/{id}/comments", new { text = "one too many" });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(429, (await ApiClient.ProblemAsync(refused))["status"]!.GetValue<int>());
        var comments = (await api.GetJsonAsync($"/api/posts/{id}/comments"))!.AsArray();
        Assert.Equal(GatewayFixture.WriteLimit - 1, comments.Count);

        // Another user is not affected.
        using var other = await fixture.SignedInClientAsync();
        await other.CommentAsync(id, "different user");
    }

    [Fact]
    public async Task CommentsArePagedWithALinkToTheNextPage()
    {
        using var api = await fixture.SignedInClientAsync();
        var id = await api.CreatePostAsync("Paged comments");
        for (var i = 1; i <= 3; i++)
        {
            await api.CommentAsync(id, $"comment {i}");
        }

        using var first = await api.Http.GetAsync(new Uri($"/api/posts/{id}/comments?limit=2", UriKind.Relative), TestContext.Current.CancellationToken);
        var page = JsonNode.Parse(await first.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!.AsArray();
        Assert.Equal([1L, 2L], page.Select(c => c!["id"]!.GetValue<long>()));
        var next = first.Headers.GetValues("Link").Single();
        Assert.Equal($"</api/posts/{id}/comments?after=2&limit=2>; rel=\"next\"", next);

        using var second = await api.Http.GetAsync(new Uri($"/api/posts/{id}/comments?after=2&limit=2", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal([3L], JsonNode.Parse(await second.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!.AsArray().Select(c => c!["id"]!.GetValue<long>()));
        Assert.False(second.Headers.Contains("Link"));

        using var bad = await api.Http.GetAsync(new Uri($"/api/posts/{id}/comments?limit=101", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task WriteLimitHoldsAcrossBothGateways()
    {
        // Per-process counting gave a user twice the limit with two gateways; the count is the cluster's now.
        using var first = await fixture.SignedInClientAsync();
        using var second = new ApiClient(fixture.OtherGateway.BaseAddress);
        second.Http.DefaultRequestHeaders.Authorization = first.Http.DefaultRequestHeaders.Authorization;
        var id = await first.CreatePostAsync("Limited everywhere");
        for (var i = 1; i < GatewayFixture.WriteLimit; i++)
        {
            await (i % 2 == 0 ? first : second).CommentAsync(id, $"comment {i}");
        }

        using var refusedHere = await first.PostJsonAsync($"/api/posts/{id}/comments", new { text = "one too many" });
        using var refusedThere = await second.PostJsonAsync($"/api/posts/{id}/comments", new { text = "one too many" });
        Assert.Equal(HttpStatusCode.TooManyRequests, refusedHere.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, refusedThere.StatusCode);
        Assert.Equal(GatewayFixture.WriteLimit - 1, (await first.GetJsonAsync($"/api/posts/{id}/comments"))!.AsArray().Count);
    }

    [Fact]
    public async Task HealthAndReadinessAnswer()
    {
        using var http = NewHttp();
        using var health = await http.GetAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken);
        using var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
