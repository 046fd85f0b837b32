using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace BookShelf.Testing;

/// <summary>
/// A Server-Sent Events client as a browser's <c>EventSource</c> reads a stream: events end at a blank line,
/// <c>id:</c> sets the last event id (kept when an event has none), lines starting with <c>:</c> are comments.
/// </summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseClient(HttpClient http, HttpResponseMessage response, StreamReader reader)
    {
        _http = http;
        _response = response;
        _reader = reader;
    }

    /// <summary>The response's status.</summary>
    public HttpStatusCode Status => _response.StatusCode;

    /// <summary>The response's content type.</summary>
    public string? ContentType => _response.Content.Headers.ContentType?.MediaType;

    /// <summary>The last event id seen (what a browser would send as <c>Last-Event-ID</c>).</summary>
    public string? LastEventId { get; private set; }

    /// <summary>Comments seen (heartbeats).</summary>
    public int Comments { get; private set; }

    /// <summary>
    /// Opens <paramref name="pathAndQuery"/> on <paramref name="baseAddress"/>, sending <paramref name="lastEventId"/>
    /// and <paramref name="origin"/> when given. Answers other than 200 are returned too (read <see cref="Status"/>).
    /// </summary>
    public static async Task<SseClient> OpenAsync(Uri baseAddress, string pathAndQuery = "/sse/update_notice/", string? lastEventId = null, string? origin = null, CancellationToken cancellationToken = default)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        return new SseClient(http, response, reader);
    }

    /// <summary>The body of a refused request.</summary>
    public Task<string> BodyAsync() => _reader.ReadToEndAsync();

    /// <summary>The next event's data as JSON, or null when the stream ended. Fails after <paramref name="timeout"/> (default 15 s).</summary>
    public async Task<(string? Id, JsonObject Data)?> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        var data = new StringBuilder();
        string? id = null;
        while (true)
        {
            string? line;
            try
            {
                line = await _reader.ReadLineAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no SSE event within {timeout ?? TimeSpan.FromSeconds(15)}");
            }
            catch (IOException)
            {
                return null;
            }

            if (line is null)
            {
                return null;
            }

            if (line.Length == 0)
            {
                if (data.Length == 0)
                {
                    continue;
                }

                if (id is not null)
                {
                    LastEventId = id;
                }

                return (id, (JsonObject)JsonNode.Parse(data.ToString())!);
            }

            if (line.StartsWith(':'))
            {
                Comments++;
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Append(line[6..]);
            }
        }
    }

    /// <summary>Reads events until one matches; fails with <paramref name="what"/> on a timeout or the end of the stream.</summary>
    public async Task<(string? Id, JsonObject Data)> NextMatchingAsync(Func<JsonObject, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"waiting for {what}");
            }

            var next = await NextAsync(left) ?? throw new InvalidOperationException($"the stream ended while waiting for {what}");
            if (match(next.Data))
            {
                return next;
            }
        }
    }

    /// <summary>Reads until the server ends the stream; false on a timeout.</summary>
    public async Task<bool> EndedAsync(TimeSpan timeout)
    {
        try
        {
            while (await NextAsync(timeout) is not null)
            {
            }

            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
