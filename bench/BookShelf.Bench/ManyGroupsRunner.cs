using System.Diagnostics;
using System.Globalization;
using BookShelf.Bench.Measure;
using BookShelf.Bench.Systems;
using BookShelf.Bench.Worker;

namespace BookShelf.Bench;

/// <summary>
/// Many groups: <see cref="Groups"/> posts, <see cref="Connections"/> connections, each on the site group and on
/// one post's group (<see cref="Connections"/> / <see cref="Groups"/> per post); comments at
/// <see cref="CommentRate"/>/s spread over the posts and new posts at <see cref="PostRate"/>/s. Counts every delivery
/// (a post reaches every connection, a comment its post's), checks each group's seq order (BookShelf), and reports
/// CPU per delivery, memory per connection and per group, and the silos' activations.
/// </summary>
public sealed class ManyGroupsRunner(ISystemUnderTest system, TextWriter progress, TimeSpan duration, TimeSpan warmup)
{
    /// <summary>Connections.</summary>
    public const int Connections = 10_000;

    /// <summary>Post groups.</summary>
    public const int Groups = 1_000;

    /// <summary>Comments per second.</summary>
    public const double CommentRate = 50;

    /// <summary>New posts per second.</summary>
    public const double PostRate = 2;

    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(10);

    /// <summary>Runs it; returns the figures as (name, value) rows.</summary>
    public async Task<IReadOnlyList<(string Name, string Value)>> RunAsync(CancellationToken cancellationToken)
    {
        Show($"creating {Groups} posts");
        var posts = new long[Groups];
        using (var gate = new SemaphoreSlim(16))
        {
            await Task.WhenAll(Enumerable.Range(0, Groups).Select(async i =>
            {
                await gate.WaitAsync(cancellationToken);
                try
                {
                    posts[i] = await system.CreatePostAsync($"group post #{i}", cancellationToken);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        await system.PrepareUsersAsync(8, cancellationToken);
        await Task.Delay(Settle, cancellationToken);
        var gatewayPids = system.GatewayPids.ToHashSet();
        var others = system.ServerPids.Where(p => !gatewayPids.Contains(p)).ToList();
        var rssBefore = ProcessStats.RssBytes(system.ServerPids);
        var gatewayRssBefore = ProcessStats.RssBytes(system.GatewayPids);
        var othersRssBefore = ProcessStats.RssBytes(others);
        var activationsBefore = await system.ActivationsAsync(cancellationToken);

        await using var workers = WorkerPool.Start(Connections);
        var uris = posts.Select(p => system.SiteAndPostUris(p)[0]).ToList();
        var connected = await workers.ConnectAsync(uris, Connections, system.SiteAndPostProtocol, _ => { });
        var opened = connected.Sum(r => r.Open);
        Show($"connected: {opened:N0} open, {connected.Sum(r => r.Failed):N0} failed");
        await Task.Delay(Settle, cancellationToken);
        var rssAfter = ProcessStats.RssBytes(system.ServerPids);
        var gatewayRssAfter = ProcessStats.RssBytes(system.GatewayPids);
        var othersRssAfter = ProcessStats.RssBytes(others);
        var activationsAfter = await system.ActivationsAsync(cancellationToken);

        Show($"warming up {warmup.TotalSeconds:0} s");
        var warm = await WriteAsync(posts, warmup, cancellationToken);
        await DrainAsync(workers, Expected(warm), cancellationToken);
        await workers.AskAllAsync(new WorkerCommand { Op = "clear" });

        var serverCpu0 = ProcessStats.CpuSeconds(system.ServerPids);
        var gatewayCpu0 = ProcessStats.CpuSeconds(system.GatewayPids);
        Show($"measuring {duration.TotalSeconds:0} s");
        var measured = await WriteAsync(posts, duration, cancellationToken);
        var expected = Expected(measured);
        var received = await DrainAsync(workers, expected, cancellationToken);
        var serverCpu = ProcessStats.CpuSeconds(system.ServerPids) - serverCpu0;
        var gatewayCpu = ProcessStats.CpuSeconds(system.GatewayPids) - gatewayCpu0;
        var status = await workers.AskAllAsync(new WorkerCommand { Op = "analyze", Posts = [] });

        // What the servers spend with the same connections and groups and nothing written (after the stream's late
        // copies have settled): heartbeats, leases, presence, timers, and the JIT while it still runs.
        await Task.Delay(Settle, cancellationToken);
        Show($"idle {IdleWindow.TotalSeconds:0} s");
        var idleCpu0 = ProcessStats.CpuSeconds(system.ServerPids);
        var idleGatewayCpu0 = ProcessStats.CpuSeconds(system.GatewayPids);
        var idleClock = Stopwatch.StartNew();
        await Task.Delay(IdleWindow, cancellationToken);
        var idleSeconds = idleClock.Elapsed.TotalSeconds;
        var idleCpu = (ProcessStats.CpuSeconds(system.ServerPids) - idleCpu0) / idleSeconds;
        var idleGatewayCpu = (ProcessStats.CpuSeconds(system.GatewayPids) - idleGatewayCpu0) / idleSeconds;

        string Number(double value, string format = "N0") => value.ToString(format, CultureInfo.InvariantCulture);
        return
        [
            ("connections opened / failed", $"{Number(opened)} / {Number(connected.Sum(r => r.Failed))}"),
            ("posts / comments acknowledged (failed)", $"{Number(measured.Posts)} / {Number(measured.Comments)} ({Number(measured.Failed)})"),
            ("write p99 (ms)", Number(measured.P99Ms, "F1")),
            ("deliveries expected / received", $"{Number(expected)} / {Number(received)}"),
            ("seq gaps or repeats (per connection and group)", system.SiteAndPostProtocol == WireProtocol.BookShelfAnyGroup ? Number(status.Sum(s => s.SeqViolations)) : "not checked"),
            ("**server CPU per delivery (µs)**, all / gateways", received == 0 ? "" : $"**{Number(serverCpu * 1e6 / received, "F2")}** / {Number(gatewayCpu * 1e6 / received, "F2")}"),
            ("server CPU with nothing written (% of a core), all / gateways", $"{Number(idleCpu * 100, "F1")} / {Number(idleGatewayCpu * 100, "F1")}"),
            ("server memory per connection, all / gateways (KB)", $"{Number((rssAfter - rssBefore) / 1024.0 / Math.Max(1, opened), "F1")} / {Number((gatewayRssAfter - gatewayRssBefore) / 1024.0 / Math.Max(1, opened), "F1")}"),
            ("memory of the other server processes per group (KB)", Number((othersRssAfter - othersRssBefore) / 1024.0 / Groups, "F1")),
            ("silo activations before / after connecting", activationsBefore is { } a && activationsAfter is { } b ? $"{Number(a)} / {Number(b)}" : "n/a"),
        ];

        long Expected(Written w) => (w.Posts * (long)opened) + (w.Comments * (long)(opened / Groups));
    }

    private async Task<Written> WriteAsync(long[] posts, TimeSpan length, CancellationToken cancellationToken)
    {
        var rate = CommentRate + PostRate;
        var every = (int)Math.Round(rate / PostRate);
        var clock = Stopwatch.StartNew();
        var histogram = new LatencyHistogram();
        long postCount = 0, comments = 0, failed = 0;
        var inFlight = new List<Task>();
        for (var n = 0; TimeSpan.FromSeconds(n / rate) < length; n++)
        {
            var wait = TimeSpan.FromSeconds(n / rate) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var i = n;
            inFlight.Add(Task.Run(async () =>
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    if (i % every == 0)
                    {
                        await system.CreatePostAsync($"many-groups post #{i}", cancellationToken);
                        Interlocked.Increment(ref postCount);
                    }
                    else
                    {
                        await system.ReactAsync(posts[(int)((i * 7919L) % posts.Length)], i, comment: true, cancellationToken);
                        Interlocked.Increment(ref comments);
                    }

                    lock (histogram)
                    {
                        histogram.Record((long)Stopwatch.GetElapsedTime(sent).TotalMicroseconds);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }
            }, cancellationToken));
        }

        await Task.WhenAll(inFlight);
        return new Written(postCount, comments, failed, histogram.Percentile(99) / 1000.0);
    }

    /// <summary>Waits until the workers have <paramref name="expected"/> deliveries, or nothing arrives for 3 s, or 60 s; returns what they have.</summary>
    private async Task<long> DrainAsync(WorkerPool workers, long expected, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        long last = -1;
        while (true)
        {
            var received = (await workers.AskAllAsync(new WorkerCommand { Op = "status" })).Sum(s => s.Received);
            if (received >= expected || quiet.Elapsed > TimeSpan.FromSeconds(3) || clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                return received;
            }

            if (received != last)
            {
                last = received;
                quiet.Restart();
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    private void Show(string text) => progress.WriteLine($"[{system.Name} many-groups] {text}");

    private readonly record struct Written(long Posts, long Comments, long Failed, double P99Ms);
}
