using System.Diagnostics;
using System.Globalization;
using System.Text;
using BookShelf.Bench.Measure;
using BookShelf.Bench.Systems;

namespace BookShelf.Bench;

/// <summary>
/// The read path, on BookShelf alone (the baseline has no pages): the home page, <c>GET /api/posts</c> and a post's
/// page under closed-loop load (<see cref="Readers"/> requests in flight), each alone; then the hot-site write load
/// (16 posts in flight, 100 connections) alone; then home-page reads and that write load at once, to see how much
/// each slows the other.
/// </summary>
public sealed class ReadsRunner(BookShelfSystem system, TextWriter progress, TimeSpan duration)
{
    /// <summary>Read requests in flight (as <c>wrk -c32</c>).</summary>
    public const int Readers = 32;

    /// <summary>Posts in flight in the write load.</summary>
    public const int Writers = 16;

    /// <summary>Runs every phase and returns the Markdown table.</summary>
    public async Task<string> RunAsync(CancellationToken cancellationToken)
    {
        // 60 posts, one with comments, as in the figures of the issue that asked for this.
        long someId = 0;
        for (var i = 0; i < 60; i++)
        {
            someId = await system.CreatePostAsync($"reads #{i}", cancellationToken);
        }

        await using var workers = WorkerPool.Start(100);
        await workers.ConnectAsync(system.WebSocketUris, 100, system.Protocol, _ => { });
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Readers * 2 }) { BaseAddress = system.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        string[] paths = ["/", "/api/posts", $"/posts/{someId}"];

        Show("warming up (reads and writes, 20 s)");
        await Task.WhenAll(ReadAsync(http, "/", TimeSpan.FromSeconds(20), cancellationToken), WriteAsync(TimeSpan.FromSeconds(20), cancellationToken));

        var rows = new List<(string What, Rate Reads, Rate Writes)>();
        foreach (var path in paths)
        {
            Show($"reading {path} alone");
            rows.Add(($"`GET {path}` alone", await ReadAsync(http, path, duration, cancellationToken), default));
        }

        Show("writing alone");
        var writesAlone = await WriteAsync(duration, cancellationToken);
        rows.Add(("hot-site writes alone", default, writesAlone));
        Rate readsTogether = default, writesTogether = default;
        foreach (var path in new[] { "/", "/api/posts" })
        {
            Show($"reading {path} while writing");
            var reads = ReadAsync(http, path, duration, cancellationToken);
            var writes = WriteAsync(duration, cancellationToken);
            await Task.WhenAll(reads, writes);
            rows.Add(($"`GET {path}` and hot-site writes at once", reads.Result, writes.Result));
            if (path == "/")
            {
                (readsTogether, writesTogether) = (reads.Result, writes.Result);
            }
        }

        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"### reads: {Readers} requests in flight, {duration.TotalSeconds:0} s each; writes: {Writers} posts in flight, 100 connections");
        sb.AppendLine();
        sb.AppendLine("| | requests/s | p50 / p99 (ms) | failed | posts/s | post p50 / p99 (ms) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (what, r, w) in rows)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {what} | {Cell(r.PerSecond, "N0")} | {Pair(r)} | {(r.Count > 0 ? r.Failed.ToString("N0", CultureInfo.InvariantCulture) : "")} | {Cell(w.PerSecond, "N0")} | {Pair(w)} |");
        }

        var homeAlone = rows[0].Reads;
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Home page / post's page: {homeAlone.PerSecond / rows[2].Reads.PerSecond:P0}. At once: home-page reads keep {readsTogether.PerSecond / homeAlone.PerSecond:P0} of their rate, writes keep {writesTogether.PerSecond / writesAlone.PerSecond:P0} of theirs.");
        return sb.ToString();
    }

    private static string Cell(double value, string format) => value > 0 ? value.ToString(format, CultureInfo.InvariantCulture) : "";

    private static string Pair(Rate r) => r.Count > 0 ? $"{r.P50:F1} / {r.P99:F1}" : "";

    private async Task<Rate> ReadAsync(HttpClient http, string path, TimeSpan length, CancellationToken cancellationToken)
    {
        var histogram = new LatencyHistogram();
        var failed = 0;
        var clock = Stopwatch.StartNew();
        async Task LoopAsync()
        {
            var mine = new LatencyHistogram();
            while (clock.Elapsed < length)
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken);
                    await response.Content.CopyToAsync(Stream.Null, cancellationToken);
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref failed);
                        continue;
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                    continue;
                }

                mine.Record((long)Stopwatch.GetElapsedTime(sent).TotalMicroseconds);
            }

            lock (histogram)
            {
                histogram.Merge(mine);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Readers).Select(_ => Task.Run(LoopAsync, cancellationToken)));
        return new Rate(histogram.Count, failed, histogram.Count / clock.Elapsed.TotalSeconds, histogram.Percentile(50) / 1000.0, histogram.Percentile(99) / 1000.0);
    }

    private async Task<Rate> WriteAsync(TimeSpan length, CancellationToken cancellationToken)
    {
        var histogram = new LatencyHistogram();
        var failed = 0;
        var clock = Stopwatch.StartNew();
        async Task LoopAsync()
        {
            var mine = new LatencyHistogram();
            var n = 0;
            while (clock.Elapsed < length)
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    await system.CreatePostAsync($"reads bench write #{n++}", cancellationToken);
                    mine.Record((long)Stopwatch.GetElapsedTime(sent).TotalMicroseconds);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }
            }

            lock (histogram)
            {
                histogram.Merge(mine);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(LoopAsync, cancellationToken)));
        return new Rate(histogram.Count, failed, histogram.Count / clock.Elapsed.TotalSeconds, histogram.Percentile(50) / 1000.0, histogram.Percentile(99) / 1000.0);
    }

    private void Show(string text) => progress.WriteLine($"[bookshelf reads] {text}");

    private readonly record struct Rate(long Count, int Failed, double PerSecond, double P50, double P99);
}
