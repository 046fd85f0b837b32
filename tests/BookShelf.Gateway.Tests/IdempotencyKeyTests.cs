using System.Net.Http.Json;

namespace BookShelf.Gateway.Tests;

/// <summary>The Idempotency-Key header on writes, over real HTTP on two gateways.</summary>
[Collection(GatewayCollection.Name)]
public sealed class IdempotencyKeyTests(GatewayFixture fixture)
{
    [Fact]
    public async Task RepeatedKeyReturnsTheFirst201AndBodyOnEitherGatewayAndCreatesOnePost()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        await api.SignUpAndSignInAsync();
        using var other = new ApiClient(fixture.OtherGateway.BaseAddress);
        other.Http.DefaultRequestHeaders.Authorization = api.Http.DefaultRequestHeaders.Authorization;
        var key = Guid.NewGuid().ToString("N");
        var title = "Keyed " + key[..8];

        using var first = await SendAsync(api.Http, "/api/posts", new { title, body = "once" }, key);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var firstBody = await first.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var id = JsonNode.Parse(firstBody)!["id"]!.GetValue<long>();
        await other.ToggleLikeAsync(id);

        using var again = await SendAsync(other.Http, "/api/posts", new { title, body = "once" }, key);
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        Assert.Equal(firstBody, await again.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(first.Headers.Location, again.Headers.Location);

        var listed = (await api.GetJsonAsync("/api/posts?limit=100"))!["items"]!.AsArray();
        Assert.Single(listed, p => (string?)p!["title"] == title);
    }

    [Fact]
    public async Task UsedKeyWithAnotherBodyIs422AndChangesNothing()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        await api.SignUpAndSignInAsync();
        var key = Guid.NewGuid().ToString("N");
        using (var first = await SendAsync(api.Http, "/api/posts", new { title = "First " + key[..8], body = "b" }, key))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        var before = (await api.GetJsonAsync("/api/posts?limit=1"))!["items"]![0]!["seq"]!.GetValue<long>();
        using var reused = await SendAsync(api.Http, "/api/posts", new { title = "Second " + key[..8], body = "b" }, key);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        Assert.Equal("application/problem+json", reused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(422, (await ApiClient.ProblemAsync(reused))["status"]!.GetValue<int>());
        Assert.Equal(before, (await api.GetJsonAsync("/api/posts?limit=1"))!["items"]![0]!["seq"]!.GetValue<long>());
    }

    [Fact]
    public async Task KeysArePerUser()
    {
        using var alice = new ApiClient(fixture.Gateway.BaseAddress);
        await alice.SignUpAndSignInAsync();
        using var bob = new ApiClient(fixture.Gateway.BaseAddress);
        await bob.SignUpAndSignInAsync();
        var key = Guid.NewGuid().ToString("N");
        using var a = await SendAsync(alice.Http, "/api/posts", new { title = "Alice " + key[..8], body = "b" }, key);
        using var b = await SendAsync(bob.Http, "/api/posts", new { title = "Bob " + key[..8], body = "b" }, key);
        Assert.Equal(HttpStatusCode.Created, a.StatusCode);
        Assert.Equal(HttpStatusCode.Created, b.StatusCode);
        Assert.NotEqual(a.Headers.Location, b.Headers.Location);
    }

    [Fact]
    public async Task RepeatedCommentKeyAddsOneComment()
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        await api.SignUpAndSignInAsync();
        var post = await api.CreatePostAsync("Commented once");
        var key = Guid.NewGuid().ToString("N");
        for (var i = 0; i < 3; i++)
        {
            using var response = await SendAsync(api.Http, $"/api/posts/{post}/comments", new { text = "just once" }, key);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        Assert.Single((await api.GetJsonAsync($"/api/posts/{post}/comments"))!.AsArray());
        using var reused = await SendAsync(api.Http, $"/api/posts/{post}/comments", new { text = "something else" }, key);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        Assert.Single((await api.GetJsonAsync($"/api/posts/{post}/comments"))!.AsArray());
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("\"\"")]
    public async Task MalformedKeyIs400AndCreatesNothing(string key)
    {
        using var api = new ApiClient(fixture.Gateway.BaseAddress);
        await api.SignUpAndSignInAsync();
        var before = (await api.GetJsonAsync("/api/posts?limit=1"))!["items"]!.AsArray().FirstOrDefault()?["seq"]?.GetValue<long>();
        using var response = await SendAsync(api.Http, "/api/posts", new { title = "never", body = "b" }, key);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotNull((await ApiClient.ProblemAsync(response))["errors"]!["Idempotency-Key"]);
        Assert.Equal(before, (await api.GetJsonAsync("/api/posts?limit=1"))!["items"]!.AsArray().FirstOrDefault()?["seq"]?.GetValue<long>());
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string path, object body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return await http.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
