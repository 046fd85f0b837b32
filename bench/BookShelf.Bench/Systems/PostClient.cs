using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace BookShelf.Bench.Systems;

/// <summary>A script's HTTP client for <c>POST /api/posts</c> (both systems share the route and the answer's <c>id</c>).</summary>
public sealed class PostClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>A client of <paramref name="baseAddress"/>, with enough connections for posts in flight at once.</summary>
    public PostClient(Uri baseAddress) =>
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 128, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };

    /// <summary>Where the posts go.</summary>
    public Uri BaseAddress => _http.BaseAddress!;

    /// <summary>Signs up (if needed) and takes a bearer token: BookShelf's writes need one.</summary>
    public async Task SignInAsync(string username, string password, CancellationToken cancellationToken)
    {
        using (var created = await _http.PostAsJsonAsync("/api/accounts", new { username, password }, cancellationToken))
        {
            if (created.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
            {
                throw new InvalidOperationException($"sign up answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync(cancellationToken)}");
            }
        }

        using var token = await _http.PostAsJsonAsync("/api/tokens", new { username, password }, cancellationToken);
        token.EnsureSuccessStatusCode();
        var json = await token.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)json!["token"]!);
    }

    /// <summary>Creates a post; returns its id.</summary>
    public async Task<long> CreateAsync(string title, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync("/api/posts", new { title, body = "benchmark" }, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new HttpRequestException($"POST /api/posts answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        var json = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
        return (long)json!["id"]!;
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
