using System.Diagnostics;
using System.Globalization;

namespace BookShelf.Bench.Measure;

/// <summary>
/// Samples, every <see cref="Interval"/>, how long each server process and this load tool have been paused by the
/// garbage collector so far: the servers' <c>dotnet.gc.pause.time</c> from their Prometheus endpoints (the .NET
/// runtime's meter), the load tool's own from <see cref="GC.GetTotalPauseDuration"/>. Tells which process paused
/// while a slow request was in flight, and which generations it collected then. Each scrape costs its server a little CPU: used by the cold start only.
/// </summary>
public sealed class GcPauseSampler : IAsyncDisposable
{
    /// <summary>Time between samples.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    /// <summary>The name this load tool's own pauses are listed under.</summary>
    public const string LoadTool = "load tool";

    private readonly IReadOnlyList<(string Name, Uri Metrics)> _endpoints;
    private readonly Stopwatch _clock;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly List<Sample> _samples = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private GcPauseSampler(IReadOnlyList<(string Name, Uri Metrics)> endpoints, Stopwatch clock)
    {
        _endpoints = endpoints;
        _clock = clock;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Starts sampling <paramref name="endpoints"/>; times are read from <paramref name="clock"/>, in seconds.</summary>
    public static GcPauseSampler Start(IReadOnlyList<(string Name, Uri Metrics)> endpoints, Stopwatch clock) => new(endpoints, clock);

    /// <summary>Whether any server answered with a pause figure (false: its metrics do not export the runtime's meter).</summary>
    public bool SawServerPauses { get; private set; }

    /// <summary>
    /// Milliseconds each process was paused between the last sample at or before <paramref name="from"/> and the first
    /// at or after <paramref name="to"/>, and the oldest generation it collected meanwhile (only processes that paused).
    /// </summary>
    public IReadOnlyList<(string Name, double Milliseconds, string Generation)> PausesAround(double from, double to)
    {
        lock (_samples)
        {
            return [.. _samples.GroupBy(s => s.Name).Select(g =>
            {
                var before = g.LastOrDefault(s => s.At <= from);
                var after = g.FirstOrDefault(s => s.At >= to);
                if (before is null || after is null)
                {
                    return (g.Key, 0.0, "");
                }

                var oldest = Enumerable.Range(0, 3).LastOrDefault(n => after.Collections[n] > before.Collections[n], -1);
                return (g.Key, after.PausedMs - before.PausedMs, oldest < 0 ? "" : $"gen{oldest}");
            }).Where(p => p.Item2 > 0)];
        }
    }

    /// <summary>Each process's total pause and its largest per-interval pause over the samples taken in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public IReadOnlyList<(string Name, double TotalMs, double LargestMs)> Totals(double from, double to)
    {
        lock (_samples)
        {
            return [.. _samples.Where(s => s.At >= from && s.At < to).GroupBy(s => s.Name).Select(g =>
            {
                var list = g.ToList();
                var largest = list.Zip(list.Skip(1), (a, b) => b.PausedMs - a.PausedMs).DefaultIfEmpty(0).Max();
                return (g.Key, list[^1].PausedMs - list[0].PausedMs, largest);
            })];
        }
    }

    /// <summary>Every pause in [<paramref name="from"/>, <paramref name="to"/>] as "name: ms" text, or "none".</summary>
    public string Describe(double from, double to)
    {
        var pauses = PausesAround(from, to);
        return pauses.Count == 0 ? "no GC" : string.Join(", ", pauses.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Name} {p.Generation} GC {p.Milliseconds:F0} ms")));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _http.Dispose();
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            Record(LoadTool, GC.GetTotalPauseDuration().TotalMilliseconds, [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)]);
            foreach (var (name, metrics) in _endpoints)
            {
                try
                {
                    var page = await _http.GetStringAsync(metrics, _stop.Token);
                    if (ReadPauseSeconds(page) is { } seconds)
                    {
                        SawServerPauses = true;
                        Record(name, seconds * 1000, ReadCollections(page));
                    }
                }
                catch (HttpRequestException)
                {
                    // A server that does not answer one scrape has no sample for it; its next one covers the gap.
                }
            }
        }
        while (await timer.WaitForNextTickAsync(_stop.Token));
    }

    private void Record(string name, double pausedMs, long[] collections)
    {
        lock (_samples)
        {
            _samples.Add(new Sample(_clock.Elapsed.TotalSeconds, name, pausedMs, collections));
        }
    }

    /// <summary>
    /// Collections of each generation so far, as this load tool counts them (<see cref="GC.CollectionCount"/>: a gen1
    /// collection also counts as gen0's), from the runtime meter's <c>dotnet_gc_collections_total</c>, which counts
    /// each collection under the oldest generation it collected.
    /// </summary>
    internal static long[] ReadCollections(string page)
    {
        var byOldest = new long[3];
        foreach (var line in page.Split('\n'))
        {
            if (!line.StartsWith("dotnet_gc_collections", StringComparison.Ordinal))
            {
                continue;
            }

            for (var n = 0; n < 3; n++)
            {
                if (line.Contains($"gc_heap_generation=\"gen{n}\"", StringComparison.Ordinal)
                    && long.TryParse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                {
                    byOldest[n] = value;
                }
            }
        }

        // As GC.CollectionCount counts: generation n's count includes every collection of an older generation.
        return [byOldest[0] + byOldest[1] + byOldest[2], byOldest[1] + byOldest[2], byOldest[2]];
    }

    /// <summary>The cumulative GC pause in seconds from a Prometheus text page (<c>dotnet_gc_pause_time_seconds_total</c>), or null.</summary>
    internal static double? ReadPauseSeconds(string page)
    {
        foreach (var line in page.Split('\n'))
        {
            if (line.StartsWith("dotnet_gc_pause_time", StringComparison.Ordinal)
                && double.TryParse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
        }

        return null;
    }

    private sealed record Sample(double At, string Name, double PausedMs, long[] Collections);
}
