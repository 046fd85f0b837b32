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
    private readonly System.Threading.Channels.Channel<(string? Id, JsonObject Data)> _events = System.Threading.Channels.Channel.CreateUnbounded<(string? Id, JsonObject Data)>();
    private Task? _reading;
    private int _comments;

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
    public int Comments => Volatile.Read(ref _comments);

    /// <summary>
    /// Opens <paramref name="pathAndQuery"/> on <paramref name="baseAddress"/>, sending <paramref name="lastEventId"/>
    /// and <paramref name="origin"/> when given. Answers other than 200 are returned too (read <see cref="Status"/>).
    /// </summary>
    /// <param name="from">A loopback source address to connect from (limits are per client address).</param>
    /// <param name="receiveBufferBytes">A small socket receive buffer makes a client that stops reading fall behind sooner.</param>
    public static async Task<SseClient> OpenAsync(Uri baseAddress, string pathAndQuery = "/sse/update_notice/", string? lastEventId = null, string? origin = null, CancellationToken cancellationToken = default, IPAddress? from = null, int? receiveBufferBytes = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                try
                {
                    if (receiveBufferBytes is { } size)
                    {
                        socket.ReceiveBufferSize = size;
                    }

                    if (from is not null)
                    {
                        socket.Bind(new IPEndPoint(from, 0));
                    }

                    await socket.ConnectAsync(context.DnsEndPoint, token);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
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

    /// <summary>
    /// The next event's data as JSON, or null when the stream ended. Fails after <paramref name="timeout"/> (default
    /// 15 s); the stream stays usable after a timeout (lines are read by a loop of their own).
    /// </summary>
    public async Task<(string? Id, JsonObject Data)?> NextAsync(TimeSpan? timeout = null)
    {
        _reading ??= ReadLoopAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        try
        {
            if (!await _events.Reader.WaitToReadAsync(cts.Token))
            {
                return null;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no SSE event within {timeout ?? TimeSpan.FromSeconds(15)}");
        }

        var next = await _events.Reader.ReadAsync(CancellationToken.None);
        if (next.Id is not null)
        {
            LastEventId = next.Id;
        }

        return next;
    }

    /// <summary>Parses the stream as EventSource does, until it ends.</summary>
    private async Task ReadLoopAsync()
    {
        var data = new StringBuilder();
        string? id = null;
        try
        {
            while (await _reader.ReadLineAsync() is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Length > 0)
                    {
                        _events.Writer.TryWrite((id, (JsonObject)JsonNode.Parse(data.ToString())!));
                    }

                    data.Clear();
                    id = null;
                }
                else if (line.StartsWith(':'))
                {
                    Interlocked.Increment(ref _comments);
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
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or HttpRequestException)
        {
        }
        finally
        {
            _events.Writer.TryComplete();
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
