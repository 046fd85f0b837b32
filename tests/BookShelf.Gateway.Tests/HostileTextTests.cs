using System.Net.Http.Json;

namespace BookShelf.Gateway.Tests;

/// <summary>Control and text-direction characters are refused in what people write, and nothing is stored.</summary>
[Collection(GatewayCollection.Name)]
public sealed class HostileTextTests(GatewayFixture fixture)
{
    [Theory]
    [InlineData("title", "Dune\u202Eevil")]
    [InlineData("title", "nul\u0000title")]
    [InlineData("body", "an \u001B[31mANSI\u001B[0m escape")]
    [InlineData("body", "isolate \u2066here\u2069")]
    [InlineData("body", "C1 \u009B control")]
    public async Task PostWithAControlOrBidiCharacterIs400(string field, string text)
    {
        using var api = await fixture.SignedInClientAsync();
        var before = (await api.GetJsonAsync("/api/posts?limit=1"))!["items"]!.AsArray().FirstOrDefault()?["seq"]?.GetValue<long>();
        using var response = await api.PostJsonAsync("/api/posts", field == "title" ? new { title = text, body = "fine" } : new { title = "fine", body = text });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotNull((await ApiClient.ProblemAsync(response))["errors"]![field]);
        Assert.Equal(before, (await api.GetJsonAsync("/api/posts?limit=1"))!["items"]!.AsArray().FirstOrDefault()?["seq"]?.GetValue<long>());
    }

    [Fact]
    public async Task CommentWithABidiOverrideIs400AndTabsAndNewlinesAreFine()
    {
        using var api = await fixture.SignedInClientAsync();
        var id = await api.CreatePostAsync("Plain title", "Line one\nline\ttwo");
        using var bad = await api.PostJsonAsync($"/api/posts/{id}/comments", new { text = "gnp.exe\u202Etxt" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Empty((await api.GetJsonAsync($"/api/posts/{id}/comments"))!.AsArray());
        Assert.Equal("Line one\nline\ttwo", (string?)(await api.GetJsonAsync($"/api/posts/{id}"))!["body"]);
    }
}
