using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace BookShelf.Testing.History;

/// <summary>How the history's writers behave.</summary>
public sealed record WriterOptions
{
    /// <summary>Writers running at once, each in a closed loop (one request in flight).</summary>
    public int Writers { get; init; } = 4;

    /// <summary>Posts per second over all writers in steady mode; 0 for a closed loop as fast as answers come.</summary>
    public double PostsPerSecond { get; init; } = 20;

    /// <summary>Whether each operation sends an Idempotency-Key (and its retries reuse it).</summary>
    public bool SendKeys { get; init; } = true;

    /// <summary>Attempts per operation: a careful client retries an unknown outcome with the same key.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>The client's timeout per attempt.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// Writers that create posts over HTTP, round-robin over the gateways, and record every attempt of every
/// operation: sent, 201 with id, 503, another status, timeout, connection failure. A writer whose attempt has
/// an unknown outcome retries the same operation (same title, same key) on the next gateway, up to
/// <see cref="WriterOptions.MaxAttempts"/>; after a connection refusal it moves on at once.
/// </summary>
public sealed class HistoryWriters : IAsyncDisposable
{
    private readonly IReadOnlyList<GatewayNode> _gateways;
    private readonly WriterOptions _options;
    private readonly string _token;
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];
    private readonly HttpClient _http;
    private readonly ConcurrentQueue<WriteOperation> _operations = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private int _next;
    private int _gateway;
    private int _burstWriters;
    private long _limit = long.MaxValue;

    private HistoryWriters(IReadOnlyList<GatewayNode> gateways, WriterOptions options, string token)
    {
        _gateways = gateways;
        _options = options;
        _token = token;
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(5), ConnectTimeout = TimeSpan.FromSeconds(3) })
        {
            Timeout = options.RequestTimeout,
        };
    }

    /// <summary>Every operation so far.</summary>
    public IReadOnlyList<WriteOperation> Operations => [.. _operations];

    /// <summary>Acknowledged operations so far.</summary>
    public int Acknowledged => _operations.Count(o => o.AcknowledgedId is not null);

    /// <summary>Signs up one writer account on the first live gateway and starts the writers.</summary>
    public static async Task<HistoryWriters> StartAsync(IReadOnlyList<GatewayNode> gateways, WriterOptions options, long? operations = null)
    {
        using var api = new ApiClient(gateways.First(g => g.Process.IsRunning).BaseAddress);
        await api.SignUpAndSignInAsync();
        var writers = new HistoryWriters(gateways, options, api.Http.DefaultRequestHeaders.Authorization!.Parameter!);
        writers._limit = operations ?? long.MaxValue;
        for (var i = 0; i < options.Writers; i++)
        {
            writers._loops.Add(Task.Run(() => writers.WriteLoopAsync(steady: true)));
        }

        return writers;
    }

    /// <summary>Adds <paramref name="writers"/> closed-loop writers for <paramref name="duration"/>: a burst as fast as the system answers.</summary>
    public async Task BurstAsync(int writers, TimeSpan duration)
    {
        using var burst = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        burst.CancelAfter(duration);
        Interlocked.Add(ref _burstWriters, writers);
        var loops = Enumerable.Range(0, writers).Select(_ => Task.Run(() => WriteLoopAsync(steady: false, burst.Token))).ToList();
        await Task.WhenAll(loops);
        Interlocked.Add(ref _burstWriters, -writers);
    }

    /// <summary>Waits until <paramref name="count"/> more operations are acknowledged.</summary>
    public Task WaitForMoreAsync(int count, TimeSpan timeout)
    {
        var target = Acknowledged + count;
        return Poll.UntilAsync(() => Task.FromResult(Acknowledged >= target), timeout, $"{count} more acknowledged posts (have {Acknowledged})");
    }

    /// <summary>Waits until every operation's writer is done (the operation limit was reached).</summary>
    public Task CompletionAsync() => Task.WhenAll(_loops);

    /// <summary>Stops the writers; operations in flight finish their attempts.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _http.Dispose();
        _stop.Dispose();
    }

    private async Task WriteLoopAsync(bool steady, CancellationToken burst = default)
    {
        var interval = steady && _options.PostsPerSecond > 0 ? TimeSpan.FromSeconds(_options.Writers / _options.PostsPerSecond) : TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        var due = TimeSpan.Zero;
        while (!_stop.IsCancellationRequested && !burst.IsCancellationRequested)
        {
            var number = Interlocked.Increment(ref _next);
            if (number > _limit)
            {
                return;
            }

            var operation = new WriteOperation(number, $"history {_run} #{number}", _options.SendKeys ? $"{_run}-{number}" : null);
            _operations.Enqueue(operation);
            await RunOperationAsync(operation);
            if (interval > TimeSpan.Zero)
            {
                due += interval;
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        }
    }

    private async Task RunOperationAsync(WriteOperation operation)
    {
        for (var attempt = 1; attempt <= _options.MaxAttempts; attempt++)
        {
            var index = (int)((uint)Interlocked.Increment(ref _gateway) % _gateways.Count);
            var outcome = await SendAsync(operation, index);
            if (outcome is AttemptOutcome.Created or AttemptOutcome.OtherStatus)
            {
                return;
            }

            // Without a key a retry could make a second post: a careful client without keys gives up instead,
            // unless the answer said nothing was changed.
            if (operation.Key is null && outcome != AttemptOutcome.Refused)
            {
                return;
            }

            if (outcome != AttemptOutcome.ConnectionFailed)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
            }
        }
    }

    private async Task<AttemptOutcome> SendAsync(WriteOperation operation, int gateway)
    {
        var sent = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_gateways[gateway].BaseAddress, "/api/posts"))
        {
            Content = JsonContent.Create(new { title = operation.Title, body = "history" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        if (operation.Key is { } key)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        AttemptOutcome outcome;
        var status = 0;
        long? id = null;
        try
        {
            using var response = await _http.SendAsync(request);
            status = (int)response.StatusCode;
            if (response.StatusCode == HttpStatusCode.Created)
            {
                id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
                outcome = AttemptOutcome.Created;
            }
            else
            {
                outcome = response.StatusCode != HttpStatusCode.ServiceUnavailable ? AttemptOutcome.OtherStatus
                    : (await response.Content.ReadAsStringAsync()).Contains("nothing was changed", StringComparison.Ordinal) ? AttemptOutcome.Refused
                    : AttemptOutcome.Unavailable;
            }
        }
        catch (HttpRequestException)
        {
            outcome = AttemptOutcome.ConnectionFailed;
        }
        catch (TaskCanceledException)
        {
            outcome = AttemptOutcome.Timeout;
        }

        operation.Record(new Attempt(gateway, outcome, status, clock.Elapsed, sent), id);
        return outcome;
    }
}
