using System.Collections;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using BookShelf.Bench.Measure;

namespace BookShelf.Bench.Worker;

/// <summary>
/// A load-generating process: holds its share of the connections (a process may open at most about 20,000
/// files here) and answers the orchestrator's commands, one JSON line each way.
/// </summary>
public sealed class WorkerHost
{
    private readonly DeliveryLog _log = new();
    private readonly List<FeedConnection> _connections = [];
    private readonly TextWriter _out;
    private readonly Lock _outLock = new();

    private WorkerHost(TextWriter output) => _out = output;

    /// <summary>
    /// Runs the command loop until <c>exit</c> or the end of input, on the calling thread: reading standard input
    /// blocks, and receive completions run on the socket engine's threads, which must never block.
    /// </summary>
    public static int Run()
    {
        var host = new WorkerHost(Console.Out);
        while (Console.In.ReadLine() is { } line)
        {
            var command = JsonSerializer.Deserialize<WorkerCommand>(line, Json.Options)!;
            if (command.Op == "exit")
            {
                break;
            }

            host.Write(host.HandleAsync(command).GetAwaiter().GetResult());
        }

        foreach (var connection in host._connections)
        {
            connection.Abort();
        }

        return 0;
    }

    private async Task<WorkerReport> HandleAsync(WorkerCommand command) => command.Op switch
    {
        "connect" => await ConnectAsync(command),
        "status" => Status("status"),
        "clear" => Clear(),
        "analyze" => Analyze(command.Posts),
        "close" => Close(),
        _ => throw new InvalidOperationException($"unknown op {command.Op}"),
    };

    private WorkerReport Status(string ev) => new()
    {
        Ev = ev,
        Open = _connections.Count,
        Closed = _connections.Count(c => c.Closed),
        Received = _log.Count,
        CpuSeconds = ProcessStats.CpuSeconds(Environment.ProcessId),
    };

    private WorkerReport Clear()
    {
        _log.Clear();
        return Status("clear");
    }

    private WorkerReport Close()
    {
        foreach (var connection in _connections)
        {
            connection.Abort();
        }

        _connections.Clear();
        return Status("close");
    }

    private async Task<WorkerReport> ConnectAsync(WorkerCommand command)
    {
        var plan = command.Targets.SelectMany(t => Enumerable.Repeat(t, t.Count)).ToList();
        var sources = command.Sources.Select(IPAddress.Parse).ToArray();
        var times = new LatencyHistogram();
        var errors = new List<string>();
        var failed = 0;
        var next = -1;
        var progress = Stopwatch.StartNew();
        var baseIndex = _connections.Count == 0 ? 0 : _connections.Max(c => c.Index) + 1;
        var opened = new FeedConnection?[plan.Count];

        async Task OpenAsync()
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= plan.Count)
                {
                    return;
                }

                var target = plan[i];
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    opened[i] = await FeedConnection.ConnectAsync(baseIndex + i, target.Url, sources[i % sources.Length], target.Protocol, _log, timeout.Token);
                    var micros = (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                    lock (times)
                    {
                        times.Record(micros);
                    }
                }
                catch (Exception ex)
                {
                    Interlocked.Increment(ref failed);
                    lock (errors)
                    {
                        if (errors.Count < 5)
                        {
                            errors.Add($"{target.Url}: {ex.GetType().Name}: {ex.Message}");
                        }
                    }
                }

                if (progress.ElapsedMilliseconds > 1000)
                {
                    progress.Restart();
                    Write(new WorkerReport { Ev = "progress", Open = Math.Min(Volatile.Read(ref next), plan.Count) - Volatile.Read(ref failed), Failed = Volatile.Read(ref failed) });
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, command.Concurrency)).Select(_ => Task.Run(OpenAsync)));
        _connections.AddRange(opened.OfType<FeedConnection>());
        return Status("connect") with { Failed = failed, Errors = errors, ConnectPairs = times.ToPairs(), ConnectMax = times.Max };
    }

    private WorkerReport Analyze(IReadOnlyList<long[]> posts)
    {
        var postIndex = new Dictionary<long, int>(posts.Count);
        for (var i = 0; i < posts.Count; i++)
        {
            postIndex[posts[i][0]] = i;
        }

        var seen = new BitArray[_connections.Count == 0 ? 0 : _connections.Max(c => c.Index) + 1];
        foreach (var connection in _connections)
        {
            seen[connection.Index] = new BitArray(posts.Count);
        }

        var latency = new LatencyHistogram();
        var last = new long[posts.Count];
        long delivered = 0, duplicated = 0, unlisted = 0, first = long.MaxValue, final = 0;
        var ticksPerMicro = Stopwatch.Frequency / 1_000_000.0;
        foreach (var record in _log.Records())
        {
            if (!postIndex.TryGetValue(record.PostId, out var p))
            {
                unlisted++;
                continue;
            }

            var bits = seen[record.Connection];
            if (bits[p])
            {
                duplicated++;
                continue;
            }

            bits[p] = true;
            delivered++;
            latency.Record((long)((record.Timestamp - posts[p][1]) / ticksPerMicro));
            last[p] = Math.Max(last[p], record.Timestamp);
            first = Math.Min(first, record.Timestamp);
            final = Math.Max(final, record.Timestamp);
        }

        return Status("analyze") with
        {
            Delivered = delivered,
            Duplicated = duplicated,
            Lost = ((long)_connections.Count * posts.Count) - delivered,
            Unlisted = unlisted,
            SeqViolations = _connections.Sum(c => c.SeqViolations),
            LatencyPairs = latency.ToPairs(),
            LatencyMax = latency.Max,
            LastArrival = last,
            FirstArrival = first == long.MaxValue ? 0 : first,
            FinalArrival = final,
        };
    }

    private void Write(WorkerReport report)
    {
        var line = JsonSerializer.Serialize(report, Json.Options);
        lock (_outLock)
        {
            _out.WriteLine(line);
            _out.Flush();
        }
    }
}
