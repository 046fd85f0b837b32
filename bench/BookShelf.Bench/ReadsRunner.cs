using System.Diagnostics;
using System.Globalization;
using System.Text;
using BookShelf.Bench.Measure;
using BookShelf.Bench.Systems;

namespace BookShelf.Bench;

/// <summary>
/// The read path, on BookShelf alone (the baseline has no pages): the home page, <c>GET /api/posts</c> and a post's
/// page under closed-loop load (<see cref="Readers"/> requests in flight, from <c>wrk</c> when installed), each alone
/// after its own warm-up (a page's code is compiled by the tiered JIT under load, which on two cores takes longer than
/// a short run); then two requests with the least work behind them (<c>/healthz</c>: the gateway's pipeline alone; a
/// post as JSON: that and one grain call), the floor under any write; then the hot-site write load (16 posts in
/// flight, 100 connections) alone; then reads and that write load at once, to see how much each slows the other.
/// Server CPU per request or post comes from <c>/proc</c>.
/// </summary>
public sealed class ReadsRunner(BookShelfSystem system, TextWriter progress, TimeSpan duration, TimeSpan warmUp)
{
    /// <summary>Read requests in flight (as <c>wrk -c32</c>).</summary>
    public const int Readers = 32;

    /// <summary>Posts in flight in the write load.</summary>
    public const int Writers = 16;

    private readonly ReadLoad _load = ReadLoad.Create();

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
        // The three pages first (the summary below reads rows 0 and 2); then what a request costs the servers with the
        // least work behind it: the gateway's pipeline alone (`/healthz` runs no check), and that plus one grain call
        // (a post as JSON, from its activation). A write does both and more.
        string[] paths = ["/", "/api/posts", $"/posts/{someId}", "/healthz", $"/api/posts/{someId}"];

        var rows = new List<(string What, Phase Reads, Phase Writes)>();
        foreach (var path in paths)
        {
            Show($"warming up {path} ({warmUp.TotalSeconds:0} s)");
            await ReadAsync(path, warmUp, cancellationToken);
            Show($"reading {path} alone");
            var (reads, _) = await MeasureAsync(ReadAsync(path, duration, cancellationToken), null);
            rows.Add(($"`GET {path}` alone", reads, default));
        }

        Show($"warming up the writes ({warmUp.TotalSeconds:0} s)");
        await WriteAsync(warmUp, cancellationToken);
        Show("writing alone");
        var (_, writesAlone) = await MeasureAsync(null, WriteAsync(duration, cancellationToken));
        rows.Add(("hot-site writes alone", default, writesAlone));
        Phase readsTogether = default, writesTogether = default;
        foreach (var path in new[] { "/", "/api/posts" })
        {
            Show($"reading {path} while writing");
            var (reads, writes) = await MeasureAsync(ReadAsync(path, duration, cancellationToken), WriteAsync(duration, cancellationToken));
            rows.Add(($"`GET {path}` and hot-site writes at once", reads, writes));
            if (path == "/")
            {
                (readsTogether, writesTogether) = (reads, writes);
            }
        }

        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"### reads: {Readers} requests in flight ({_load.Name}), {duration.TotalSeconds:0} s each after {warmUp.TotalSeconds:0} s of warm-up; writes: {Writers} posts in flight, 100 connections");
        sb.AppendLine();
        sb.AppendLine("| | requests/s | p50 / p99 (ms) | failed | posts/s | post p50 / p99 (ms) | server CPU (cores) | server CPU per request or post (ms) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (what, r, w) in rows)
        {
            var cores = r.Rate.Count > 0 ? r.Cores : w.Cores;
            // Per request or per post when one load ran alone; together, the CPU is not one load's.
            var served = r.Rate.PerSecond + w.Rate.PerSecond;
            var perRequest = (r.Rate.Count > 0 && w.Rate.Count > 0) || served <= 0 ? "" : (cores / served * 1000).ToString("F3", CultureInfo.InvariantCulture);
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {what} | {Cell(r.Rate.PerSecond, "N0")} | {Pair(r.Rate)} | {(r.Rate.Count > 0 ? r.Rate.Failed.ToString("N0", CultureInfo.InvariantCulture) : "")} | {Cell(w.Rate.PerSecond, "N0")} | {Pair(w.Rate)} | {cores:F2} | {perRequest} |");
        }

        var homeAlone = rows[0].Reads.Rate;
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Home page / post's page: {homeAlone.PerSecond / rows[2].Reads.Rate.PerSecond:P0}. At once: home-page reads keep {readsTogether.Rate.PerSecond / homeAlone.PerSecond:P0} of their rate, writes keep {writesTogether.Rate.PerSecond / writesAlone.Rate.PerSecond:P0} of theirs (together {readsTogether.Rate.PerSecond / homeAlone.PerSecond + (writesTogether.Rate.PerSecond / writesAlone.Rate.PerSecond):P0}; each alone already keeps the servers at {rows[0].Reads.Cores:F2} and {writesAlone.Cores:F2} of the machine's {Environment.ProcessorCount} cores).");
        return sb.ToString();
    }

    /// <summary>Runs the given loads together and reads the servers' CPU over them.</summary>
    private async Task<(Phase Reads, Phase Writes)> MeasureAsync(Task<ReadRate>? reads, Task<ReadRate>? writes)
    {
        var cpu = ProcessStats.CpuSeconds(system.ServerPids);
        var clock = Stopwatch.StartNew();
        var r = reads is null ? default : await reads;
        var w = writes is null ? default : await writes;
        var cores = (ProcessStats.CpuSeconds(system.ServerPids) - cpu) / clock.Elapsed.TotalSeconds;
        return (new Phase(r, cores), new Phase(w, cores));
    }

    private static string Cell(double value, string format) => value > 0 ? value.ToString(format, CultureInfo.InvariantCulture) : "";

    private static string Pair(ReadRate r) => r.Count > 0 ? $"{r.P50:F1} / {r.P99:F1}" : "";

    private Task<ReadRate> ReadAsync(string path, TimeSpan length, CancellationToken cancellationToken) =>
        _load.RunAsync(new Uri(system.BaseAddress, path), Readers, length, cancellationToken);

    private async Task<ReadRate> WriteAsync(TimeSpan length, CancellationToken cancellationToken)
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
        return new ReadRate(histogram.Count, failed, histogram.Count / clock.Elapsed.TotalSeconds, histogram.Percentile(50) / 1000.0, histogram.Percentile(99) / 1000.0);
    }

    private void Show(string text) => progress.WriteLine($"[bookshelf reads] {text}");

    /// <summary>A load's figures and the servers' CPU (in cores) while it ran.</summary>
    private readonly record struct Phase(ReadRate Rate, double Cores);
}
