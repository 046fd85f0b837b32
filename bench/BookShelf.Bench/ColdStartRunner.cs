using System.Diagnostics;
using System.Globalization;
using BookShelf.Bench.Measure;
using BookShelf.Bench.Systems;

namespace BookShelf.Bench;

/// <summary>
/// Cold start: starts BookShelf fresh (Redis, two silos, a gateway), and from the moment every process answers
/// <c>/readyz</c> posts at <see cref="Rate"/> posts/s with 100 connections listening, for <see cref="Length"/> (the
/// cold period), then for another <see cref="Length"/> (the warm control). The warm figure is the post p99 of the
/// control's last 20 s; the system is steady from the first second after which the p99 of every 5-second window
/// (100 posts: one slow post is not a p99) stays within 1.5 times it. (Against the cold period's own last 20 s the
/// yardstick moves with the start: a period still warming up at its end hides how slow it was.)
/// </summary>
public static class ColdStartRunner
{
    /// <summary>Posts per second.</summary>
    public const double Rate = 20;

    /// <summary>How long it posts.</summary>
    public static readonly TimeSpan Length = TimeSpan.FromSeconds(90);

    /// <summary>Runs it; returns the Markdown table.</summary>
    public static async Task<string> RunAsync(TextWriter progress, CancellationToken cancellationToken)
    {
        var starting = Stopwatch.StartNew();
        await using var system = await BookShelfSystem.StartAsync(1, cancellationToken);
        var toReady = starting.Elapsed;
        progress.WriteLine($"[bookshelf cold-start] ready {toReady.TotalSeconds:F1} s after starting the processes; posting {Rate}/s for {Length.TotalSeconds:0} s, then {Length.TotalSeconds:0} s more as a warm control");
        await using var workers = WorkerPool.Start(100);
        await workers.ConnectAsync(system.WebSocketUris, 100, system.Protocol, _ => { });

        var samples = new List<(double At, long Micros)>();
        var clock = Stopwatch.StartNew();
        await using var pauses = GcPauseSampler.Start(system.MetricsEndpoints, clock);
        var inFlight = new List<Task>();
        for (var n = 0; TimeSpan.FromSeconds(n / Rate) < Length * 2; n++)
        {
            var wait = TimeSpan.FromSeconds(n / Rate) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var number = n;
            inFlight.Add(Task.Run(async () =>
            {
                var at = clock.Elapsed.TotalSeconds;
                var sent = Stopwatch.GetTimestamp();
                await system.CreatePostAsync($"cold start #{number}", cancellationToken);
                lock (samples)
                {
                    samples.Add((at, (long)Stopwatch.GetElapsedTime(sent).TotalMicroseconds));
                }
            }, cancellationToken));
        }

        await Task.WhenAll(inFlight);
        var seconds = (int)Math.Ceiling(Length.TotalSeconds);
        var (warm, windows) = Windows(samples, 0, seconds);
        var (controlWarm, controlWindows) = Windows(samples, seconds, seconds);
        var perSecond = Enumerable.Range(0, seconds).Select(s => P99(samples.Where(x => x.At >= s && x.At < s + 1))).ToArray();
        string SteadyText(int s) => s < 0 ? $"not within {seconds} s" : s.ToString(CultureInfo.InvariantCulture);
        string Ms(double ms) => ms.ToString("F0", CultureInfo.InvariantCulture);
        // The 5 s windows end to end (0–5 s, 5–10 s, ...); "after the first" leaves out 0–5 s, which holds the start's first second.
        double[] EndToEnd(double[] w) => [.. Enumerable.Range(0, seconds / 5).Select(i => w[i * 5])];
        int AboveAfterFirst(double[] w, double warmP99) => EndToEnd(w).Skip(1).Count(p => p > warmP99 * 1.5);
        double MeanAfterFirst(double[] w) => EndToEnd(w).Skip(1).Average();
        var windowsAfterFirst = (seconds / 5) - 1;

        var firstTen = string.Join(", ", perSecond.Take(10).Select(Ms));
        // Whether the first second's p99 is one post (the first through each cold path) or many.
        var firstSecond = string.Join(", ", samples.Where(x => x.At < 1).OrderBy(x => x.At).Select(x => Ms(x.Micros / 1000.0)));
        // What keeps a later window above 1.5x warm: the slow posts after the first 10 s, by when they were sent, with
        // every process's GC pause while each was in flight (to the sampler's half-second grain).
        var slow = samples.Where(x => x.At >= 10 && x.At < seconds && x.Micros / 1000.0 > warm * 1.5).OrderBy(x => x.At).ToList();
        var slowLater = string.Join("; ", slow
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.At:F1} s: {x.Micros / 1000.0:F0} ms ({pauses.Describe(x.At, x.At + (x.Micros / 1e6))})")));
        bool ServerPaused((double At, long Micros) x) => pauses.PausesAround(x.At, x.At + (x.Micros / 1e6)).Any(p => p.Name != GcPauseSampler.LoadTool);
        var duringSlow = slow.Count(ServerPaused);
        // The base rate: a half-second sample window holds a GC of some server for many posts that were not slow.
        var later = samples.Where(x => x.At >= 10 && x.At < seconds).ToList();
        var duringAny = later.Count == 0 ? 0 : 100.0 * later.Count(ServerPaused) / later.Count;
        string GcTotals(double from, double to) => pauses.SawServerPauses
            ? string.Join(", ", pauses.Totals(from, to).Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name} {t.TotalMs:F0} ms (largest in {GcPauseSampler.Interval.TotalMilliseconds:0} ms: {t.LargestMs:F0})")))
            : "the servers' metrics have no GC pause figure";
        return $"""
            ### cold start: 2 silos, 1 gateway, {Rate:0} posts/s, 100 connections, then a warm control

            The cold period is the {seconds} s from `/readyz`; the warm control the {seconds} s after it. Each period's warm
            p99 is that of its last 20 s. The control's is the yardstick that does not move with the start.

            | | cold period | warm control |
            |---|---:|---:|
            | processes started → every one answers `/readyz` (s) | {toReady.TotalSeconds:F1} | |
            | warm post p99, the period's last 20 s (ms) | {warm:F1} | {controlWarm:F1} |
            | **steady against the control's warm** (s from the period's start until every later 5 s window's p99 stays within 1.5× the control's warm) | **{SteadyText(SteadyFrom(windows, controlWarm * 1.5, seconds))}** | {SteadyText(SteadyFrom(controlWindows, controlWarm * 1.5, seconds))} |
            | steady against the period's own warm (the same, within 1.5× its own last 20 s) | {SteadyText(SteadyFrom(windows, warm * 1.5, seconds))} | (the row above: its own warm is the yardstick) |
            | 5 s windows after the first above 1.5× the control's warm | {AboveAfterFirst(windows, controlWarm)} of {windowsAfterFirst} | {AboveAfterFirst(controlWindows, controlWarm)} of {windowsAfterFirst} |
            | mean p99 of the 5 s windows after the first (ms) | {MeanAfterFirst(windows):F1} | {MeanAfterFirst(controlWindows):F1} |
            | p99 of each 5 s window, 0–5 s, 5–10 s, … (ms) | {string.Join(", ", EndToEnd(windows).Select(Ms))} | {string.Join(", ", EndToEnd(controlWindows).Select(Ms))} |
            | post p99 in each of the first 10 s (ms) | {firstTen} | |
            | each post of the first second, in the order sent (ms) | {firstSecond} | |
            | posts above 1.5× the period's warm, 10–{seconds} s (sent at, took, GC pauses meanwhile) | {(slowLater.Length == 0 ? "none" : slowLater)} | |
            | of those, with a server GC pause in flight (to the half second) | {duringSlow} of {slow.Count} (of all posts 10–{seconds} s: {duringAny:F0} %) | |
            | GC pauses, by process (10–{seconds} s; {seconds}–{seconds * 2} s) | {GcTotals(10, seconds)} | {GcTotals(seconds, seconds * 2)} |
            """;
    }

    /// <summary>
    /// The warm p99 of <paramref name="length"/> seconds of posts sent from <paramref name="from"/> on (its last 20 s),
    /// and the p99 of the 5 s window starting at each of its seconds.
    /// </summary>
    internal static (double Warm, double[] Windows) Windows(List<(double At, long Micros)> samples, int from, int length)
    {
        var warm = P99(samples.Where(s => s.At >= from + length - 20 && s.At < from + length));
        var windows = Enumerable.Range(0, length).Select(s => P99(samples.Where(x => x.At >= from + s && x.At < from + s + 5))).ToArray();
        return (warm, windows);
    }

    /// <summary>The first second from which every 5 s window inside the period stays within <paramref name="limit"/> ms; -1 if none.</summary>
    internal static int SteadyFrom(double[] windows, double limit, int length)
    {
        var steady = -1;
        for (var s = length - 5; s >= 0 && windows[s] <= limit; s--)
        {
            steady = s;
        }

        return steady;
    }

    private static double P99(IEnumerable<(double At, long Micros)> samples)
    {
        var histogram = new LatencyHistogram();
        foreach (var s in samples)
        {
            histogram.Record(s.Micros);
        }

        return histogram.Count == 0 ? 0 : histogram.Percentile(99) / 1000.0;
    }
}
