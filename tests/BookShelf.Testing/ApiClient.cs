using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BookShelf.Testing;

/// <summary>A script's view of the HTTP API: JSON in, JSON out, bearer token once signed in.</summary>
public sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>A client for the gateway at <paramref name="baseAddress"/>.</summary>
    public ApiClient(Uri baseAddress) => _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(15) };

    /// <summary>The underlying client.</summary>
    public HttpClient Http => _http;

    /// <summary>The signed-in user, if any.</summary>
    public string? User { get; private set; }

    /// <summary>Creates a fresh account and signs in with a token. Returns the user name.</summary>
    public async Task<string> SignUpAndSignInAsync(string? username = null)
    {
        username ??= "u" + Guid.NewGuid().ToString("N")[..12];
        const string password = "correct horse battery";
        using (var created = await PostJsonAsync("/api/accounts", new { username, password }))
        {
            await EnsureAsync(created, HttpStatusCode.Created, "sign up");
        }

        using var token = await PostJsonAsync("/api/tokens", new { username, password });
        await EnsureAsync(token, HttpStatusCode.Created, "token");
        var json = await token.Content.ReadFromJsonAsync<JsonObject>();
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", json!["token"]!.GetValue<string>());
        User = username;
        return username;
    }

    /// <summary>POSTs <paramref name="body"/> as JSON.</summary>
    public Task<HttpResponseMessage> PostJsonAsync(string path, object body) => _http.PostAsJsonAsync(path, body);

    /// <summary>Creates a post and returns its id; with <paramref name="idempotencyKey"/>, as that key's request.</summary>
    public async Task<long> CreatePostAsync(string title, string body = "A fine book.", string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/posts", UriKind.Relative)) { Content = JsonContent.Create(new { title, body }) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await _http.SendAsync(request);
        await EnsureAsync(response, HttpStatusCode.Created, $"create post '{title}'");
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
    }

    /// <summary>Adds a comment and returns its id.</summary>
    public async Task<long> CommentAsync(long postId, string text)
    {
        using var response = await PostJsonAsync($"/api/posts/{postId}/comments", new { text });
        await EnsureAsync(response, HttpStatusCode.Created, $"comment on {postId}");
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
    }

    /// <summary>Toggles a like and returns the new count.</summary>
    public async Task<int> ToggleLikeAsync(long postId)
    {
        using var response = await _http.PostAsync(new Uri($"/api/posts/{postId}/likes", UriKind.Relative), null);
        await EnsureAsync(response, HttpStatusCode.OK, $"like {postId}");
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["like_count"]!.GetValue<int>();
    }

    /// <summary>GETs JSON.</summary>
    public async Task<JsonNode?> GetJsonAsync(string path)
    {
        using var response = await _http.GetAsync(new Uri(path, UriKind.Relative));
        await EnsureAsync(response, HttpStatusCode.OK, $"GET {path}");
        return await response.Content.ReadFromJsonAsync<JsonNode>();
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary>Throws with the response body when the status is not <paramref name="expected"/>.</summary>
    public static async Task EnsureAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        if (response.StatusCode != expected)
        {
            throw new HttpRequestException($"{what}: expected {(int)expected} but got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>Reads a problem-details body.</summary>
    public static async Task<JsonObject> ProblemAsync(HttpResponseMessage response)
    {
        Assert(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"expected problem+json, got {response.Content.Headers.ContentType}");
        return (await response.Content.ReadFromJsonAsync<JsonObject>(JsonSerializerOptions.Web))!;
    }

    private static void Assert(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
