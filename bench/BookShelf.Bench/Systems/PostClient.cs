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

    /// <summary>Signs up <paramref name="count"/> users (<c>{prefix}{i}</c>) and returns a bearer token for each.</summary>
    public async Task<IReadOnlyList<string>> SignInManyAsync(string prefix, int count, string password, CancellationToken cancellationToken)
    {
        var tokens = new string[count];
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                var username = $"{prefix}{i}";
                using (var created = await _http.PostAsJsonAsync("/api/accounts", new { username, password }, cancellationToken))
                {
                    if (created.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
                    {
                        throw new InvalidOperationException($"sign up of {username} answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync(cancellationToken)}");
                    }
                }

                using var token = await _http.PostAsJsonAsync("/api/tokens", new { username, password }, cancellationToken);
                token.EnsureSuccessStatusCode();
                tokens[i] = (string)(await token.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!["token"]!;
            }
            finally
            {
                gate.Release();
            }
        }));
        return tokens;
    }

    /// <summary>
    /// Comments on post <paramref name="postId"/> (returns the comment's <c>id</c>) or toggles a like (returns −1),
    /// as the holder of <paramref name="token"/> (null: this client's own, or none).
    /// </summary>
    public async Task<long> ReactAsync(long postId, bool comment, string? token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, comment ? $"/api/posts/{postId}/comments" : $"/api/posts/{postId}/likes")
        {
            Content = comment ? JsonContent.Create(new { text = "benchmark comment" }) : JsonContent.Create(new { }),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{request.RequestUri} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        return comment ? (long)(await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!["id"]! : -1;
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
