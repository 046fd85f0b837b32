using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace BookShelf.Testing;

/// <summary>
/// Creates posts over HTTP at a steady rate, round-robin over the gateways (skipping one that refuses
/// connections), until stopped. Records which posts were acknowledged (201) and how the others failed.
/// </summary>
public sealed class PostLoad : IAsyncDisposable
{
    private readonly IReadOnlyList<GatewayNode> _gateways;
    private readonly string _token;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<long> _acknowledged = new();
    private readonly ConcurrentDictionary<string, int> _failures = new();
    private readonly ConcurrentQueue<TimeSpan> _failureLatencies = new();
    private readonly TimeSpan _interval;
    private Task _loop = Task.CompletedTask;
    private int _next;

    private PostLoad(IReadOnlyList<GatewayNode> gateways, string token, double postsPerSecond)
    {
        _gateways = gateways;
        _token = token;
        _interval = TimeSpan.FromSeconds(1 / postsPerSecond);
    }

    /// <summary>Acknowledged post ids.</summary>
    public IReadOnlyCollection<long> Acknowledged => [.. _acknowledged];

    /// <summary>Failed attempts by kind (status code or exception type).</summary>
    public IReadOnlyDictionary<string, int> Failures => _failures;

    /// <summary>How long failed attempts took to fail.</summary>
    public IReadOnlyCollection<TimeSpan> FailureLatencies => [.. _failureLatencies];

    /// <summary>Signs up a writer on the first gateway and starts posting.</summary>
    public static async Task<PostLoad> StartAsync(IReadOnlyList<GatewayNode> gateways, double postsPerSecond)
    {
        using var api = new ApiClient(gateways[0].BaseAddress);
        await api.SignUpAndSignInAsync();
        var load = new PostLoad(gateways, api.Http.DefaultRequestHeaders.Authorization!.Parameter!, postsPerSecond);
        load._loop = load.RunAsync();
        return load;
    }

    /// <summary>Waits until <paramref name="count"/> more posts are acknowledged.</summary>
    public async Task WaitForMoreAsync(int count, TimeSpan timeout)
    {
        var target = _acknowledged.Count + count;
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(_acknowledged.Count >= target), timeout, $"{count} more acknowledged posts");
        }
        catch (TimeoutException ex)
        {
            // How the attempts failed is what a reader of the failure needs first.
            throw new TimeoutException($"{ex.Message} {Summary()}", ex);
        }
    }

    /// <summary>Stops posting and waits for the request in flight.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
    }

    /// <summary>A line of figures for the test output.</summary>
    public string Summary() =>
        $"acknowledged {_acknowledged.Count} posts; failed {_failures.Values.Sum()} ({string.Join(", ", _failures.Select(f => $"{f.Key}: {f.Value}"))})";

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

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(_interval);
        var n = 0;
        while (!_stop.IsCancellationRequested)
        {
            var gateway = _gateways[Interlocked.Increment(ref _next) % _gateways.Count];
            var clock = Stopwatch.StartNew();
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.BaseAddress, "/api/posts"))
                {
                    Content = JsonContent.Create(new { title = $"load {n++}", body = "steady" }),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
                using var response = await _http.SendAsync(request);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    _acknowledged.Enqueue((await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>());
                }
                else
                {
                    Fail(((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture), clock.Elapsed);
                }
            }
            catch (HttpRequestException ex)
            {
                // A dead gateway refuses connections: that is not a post the system failed.
                _failures.AddOrUpdate(ex.HttpRequestError.ToString(), 1, (_, v) => v + 1);
            }
            catch (TaskCanceledException) when (!_stop.IsCancellationRequested)
            {
                Fail("timeout", clock.Elapsed);
            }

            try
            {
                await timer.WaitForNextTickAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Fail(string kind, TimeSpan latency)
    {
        _failures.AddOrUpdate(kind, 1, (_, v) => v + 1);
        _failureLatencies.Enqueue(latency);
    }
}
