using System.Diagnostics;
using System.Globalization;
using BookShelf.Bench.Measure;
using BookShelf.Bench.Systems;

namespace BookShelf.Bench;

/// <summary>
/// Cold start: starts BookShelf fresh (Redis, two silos, a gateway), and from the moment every process answers
/// <c>/readyz</c> posts at <see cref="Rate"/> posts/s with 100 connections listening, for <see cref="Length"/>.
/// The warm figure is the post p99 of the last 20 s; the system is steady from the first second after which
/// the p99 of every 5-second window (100 posts: one slow post is not a p99) stays within 1.5 times it.
/// Then, as a control, it goes on posting for another <see cref="Length"/> and applies the same rule to that
/// period as if <c>/readyz</c> had come at its start: a system that is already warm should be steady at 0 s, so
/// what the rule finds there is what it finds in a warm system's own variation, not in its start.
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
        var (warm, windows, steady) = Steady(samples, 0, seconds);
        var perSecond = Enumerable.Range(0, seconds).Select(s => P99(samples.Where(x => x.At >= s && x.At < s + 1))).ToArray();
        var (controlWarm, controlWindows, controlSteady) = Steady(samples, seconds, seconds);
        string SteadyText(int s) => s < 0 ? $"not within {seconds} s" : s.ToString(CultureInfo.InvariantCulture);
        string WindowsText(double[] w) => string.Join(", ", Enumerable.Range(0, seconds / 5).Select(i => w[i * 5].ToString("F0", CultureInfo.InvariantCulture)));
        int Above(double[] w, double warmP99) => Enumerable.Range(0, seconds / 5).Count(i => w[i * 5] > warmP99 * 1.5);

        var firstTen = string.Join(", ", perSecond.Take(10).Select(p => p.ToString("F0", CultureInfo.InvariantCulture)));
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
        var gcTotals = pauses.SawServerPauses
            ? string.Join(", ", pauses.Totals(10).Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name} {t.TotalMs:F0} ms (largest in {GcPauseSampler.Interval.TotalMilliseconds:0} ms: {t.LargestMs:F0})")))
            : "the servers' metrics have no GC pause figure";
        return $"""
            ### cold start: 2 silos, 1 gateway, {Rate:0} posts/s, 100 connections

            | | |
            |---|---:|
            | processes started → every one answers `/readyz` (s) | {toReady.TotalSeconds:F1} |
            | warm post p99 (last 20 s, ms) | {warm:F1} |
            | **`/readyz` → steady** (every later 5 s window's p99 within 1.5× warm, s) | **{SteadyText(steady)}** |
            | post p99 in each of the first 10 s after `/readyz` (ms) | {firstTen} |
            | p99 of each 5 s window, 0–5 s, 5–10 s, … (ms) | {WindowsText(windows)} |
            | 5 s windows above 1.5× warm | {Above(windows, warm)} of {seconds / 5} |
            | warm control, the next {seconds} s by the same rule: warm p99 (ms), steady (s) | {controlWarm:F1}, **{SteadyText(controlSteady)}** |
            | warm control: p99 of each 5 s window (ms); windows above 1.5× its warm | {WindowsText(controlWindows)}; {Above(controlWindows, controlWarm)} of {seconds / 5} |
            | posts above 1.5× warm after the first 10 s (sent at, took, GC pauses meanwhile) | {(slowLater.Length == 0 ? "none" : slowLater)} |
            | of those, with a server GC pause in flight (to the half second) | {duringSlow} of {slow.Count} (of all posts after 10 s: {duringAny:F0} %) |
            | GC pauses after the first 10 s, by process | {gcTotals} |
            """;
    }

    /// <summary>
    /// The rule over <paramref name="length"/> seconds of posts sent from <paramref name="from"/> on: the warm p99 (its
    /// last 20 s), the p99 of the 5 s window starting at each second, and the first second from which every window
    /// stays within 1.5 times warm (-1 if none).
    /// </summary>
    private static (double Warm, double[] Windows, int Steady) Steady(List<(double At, long Micros)> samples, int from, int length)
    {
        var warm = P99(samples.Where(s => s.At >= from + length - 20 && s.At < from + length));
        var windows = Enumerable.Range(0, length).Select(s => P99(samples.Where(x => x.At >= from + s && x.At < from + s + 5))).ToArray();
        var steady = -1;
        for (var s = length - 5; s >= 0 && windows[s] <= warm * 1.5; s--)
        {
            steady = s;
        }

        return (warm, windows, steady);
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
