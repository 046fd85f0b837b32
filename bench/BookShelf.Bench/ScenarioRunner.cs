using System.Collections.Concurrent;
using System.Diagnostics;
using BookShelf.Bench.Measure;
using BookShelf.Bench.Systems;
using BookShelf.Bench.Worker;

namespace BookShelf.Bench;

/// <summary>
/// Runs one scenario against one running system: connects the clients, measures memory, makes the posts, waits
/// for the deliveries, and measures CPU over that window; then checks every delivery against the posts.
/// </summary>
public sealed class ScenarioRunner(ISystemUnderTest system, Scenario scenario, TextWriter progress, TimeSpan warmup, TimeSpan hold)
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);
    private long _hotPost;

    /// <summary>Runs it, then keeps the connections open for the hold time.</summary>
    public async Task<ScenarioResult> RunAsync(CancellationToken cancellationToken)
    {
        await using var workers = WorkerPool.Start(scenario.Connections);
        var result = await RunAsync(workers, cancellationToken);
        if (hold > TimeSpan.Zero)
        {
            Show($"holding the connections open for {hold.TotalSeconds:F0} s");
            await Task.Delay(hold, cancellationToken);
        }

        return result;
    }

    private async Task<ScenarioResult> RunAsync(WorkerPool workers, CancellationToken cancellationToken)
    {
        // Warm the post path before the memory baseline (no connections yet).
        for (var i = 0; i < 3; i++)
        {
            await system.CreatePostAsync($"warm-up {i}", cancellationToken);
        }

        if (scenario.HotPost)
        {
            _hotPost = await system.CreatePostAsync("the hot post", cancellationToken);
            Show($"signing in {Scenario.HotPostUsers} users");
            await system.PrepareUsersAsync(Scenario.HotPostUsers, cancellationToken);
        }

        await Task.Delay(Settle, cancellationToken);
        var rssBefore = ProcessStats.RssBytes(system.ServerPids);
        var gatewayRssBefore = ProcessStats.RssBytes(system.GatewayPids);

        var lastShown = Stopwatch.StartNew();
        var connected = await workers.ConnectAsync(
            scenario.HotPost ? system.PostGroupUris(_hotPost) : system.WebSocketUris,
            scenario.Connections,
            scenario.HotPost ? system.PostGroupProtocol : system.Protocol,
            open =>
        {
            if (lastShown.ElapsedMilliseconds >= 1000)
            {
                lastShown.Restart();
                Show($"connecting: {open:N0}/{scenario.Connections:N0}");
            }
        });
        var opened = connected.Sum(r => r.Open);
        var connectTimes = new LatencyHistogram();
        foreach (var r in connected)
        {
            connectTimes.Merge(LatencyHistogram.FromPairs(r.ConnectPairs, r.ConnectMax));
        }

        Show($"connected: {opened:N0} open, {connected.Sum(r => r.Failed):N0} failed, p99 {connectTimes.Percentile(99) / 1000.0:F1} ms");
        await Task.Delay(Settle, cancellationToken);
        var rssAfter = ProcessStats.RssBytes(system.ServerPids);
        var gatewayRssAfter = ProcessStats.RssBytes(system.GatewayPids);

        var result = new ScenarioResult
        {
            System = system.Name,
            Scenario = scenario.Name,
            Load = scenario.Load,
            Connections = scenario.Connections,
            Gateways = scenario.Gateways,
            Opened = opened,
            ConnectFailed = connected.Sum(r => r.Failed),
            ConnectErrors = [.. connected.SelectMany(r => r.Errors).Take(5)],
            ConnectP50 = connectTimes.Percentile(50) / 1000.0,
            ConnectP99 = connectTimes.Percentile(99) / 1000.0,
            ConnectMax = connectTimes.Max / 1000.0,
            ServerRssBeforeMb = rssBefore / 1048576.0,
            ServerRssAfterMb = rssAfter / 1048576.0,
            ServerKbPerConnection = opened == 0 ? 0 : (rssAfter - rssBefore) / 1024.0 / opened,
            GatewayKbPerConnection = opened == 0 ? 0 : (gatewayRssAfter - gatewayRssBefore) / 1024.0 / opened,
        };
        if (scenario.Idle || opened == 0)
        {
            return result;
        }

        // Warm up (the JIT tiers the hot paths up while posts flow), then forget what was delivered.
        // A scenario with posts in flight warms up the way it is measured: the hot path is what must be compiled.
        var warmUp = await PostAsync(workers, opened, scenario.Rate > 0 ? scenario.Rate : scenario.InFlight > 1 ? 0 : 20, warmup, "warming up", cancellationToken);
        await WaitForAsync(workers, (long)opened * warmUp.Count(p => p.Id > 0), TimeSpan.FromSeconds(30), "warm-up", cancellationToken);
        await workers.AskAllAsync(new WorkerCommand { Op = "clear" });

        var serverCpu0 = ProcessStats.CpuSeconds(system.ServerPids);
        var gatewayCpu0 = ProcessStats.CpuSeconds(system.GatewayPids);
        var loadCpu0 = workers.CpuSeconds() + ProcessStats.CpuSeconds(Environment.ProcessId);
        var window = Stopwatch.StartNew();

        var posts = await PostAsync(workers, opened, scenario.Rate, scenario.Duration, "posting", cancellationToken);
        // Tracked: posts (or a hot post's comments), whose every delivery is checked; written: every acknowledged write.
        var acked = posts.Where(p => p.Id > 0).OrderBy(p => p.Sent).ToList();
        var written = posts.Where(p => p.Id != 0).OrderBy(p => p.Sent).ToList();
        var drained = await WaitForAsync(workers, (long)opened * acked.Count, DrainTimeout, "deliveries", cancellationToken);

        var serverCpu = ProcessStats.CpuSeconds(system.ServerPids) - serverCpu0;
        var gatewayCpu = ProcessStats.CpuSeconds(system.GatewayPids) - gatewayCpu0;
        var loadCpu = workers.CpuSeconds() + ProcessStats.CpuSeconds(Environment.ProcessId) - loadCpu0;
        var windowSeconds = window.Elapsed.TotalSeconds;

        Show("analyzing");
        var analyses = await workers.AskAllAsync(new WorkerCommand { Op = "analyze", Posts = [.. acked.Select(p => new[] { p.Id, p.Sent })] });
        var latency = new LatencyHistogram();
        foreach (var a in analyses)
        {
            latency.Merge(LatencyHistogram.FromPairs(a.LatencyPairs, a.LatencyMax));
        }

        var lastDelivery = new LatencyHistogram();
        for (var p = 0; p < acked.Count; p++)
        {
            var last = analyses.Max(a => a.LastArrival[p]);
            if (last > 0)
            {
                lastDelivery.Record((long)Stopwatch.GetElapsedTime(acked[p].Sent, last).TotalMicroseconds);
            }
        }

        var postTimes = new LatencyHistogram();
        foreach (var p in written)
        {
            postTimes.Record((long)Stopwatch.GetElapsedTime(p.Sent, p.Acked).TotalMicroseconds);
        }

        var delivered = analyses.Sum(a => a.Delivered);
        var postingSeconds = written.Count == 0 ? 0 : Stopwatch.GetElapsedTime(written[0].Sent, written.Max(p => p.Acked)).TotalSeconds;
        var first = acked.Count == 0 ? 0 : acked[0].Sent;
        var final = analyses.Max(a => a.FinalArrival);
        var span = final > first ? Stopwatch.GetElapsedTime(first, final).TotalSeconds : 0;
        return result with
        {
            PostsAcked = written.Count,
            PostsFailed = posts.Count - written.Count,
            PostP50 = postTimes.Percentile(50) / 1000.0,
            PostP99 = postTimes.Percentile(99) / 1000.0,
            PostMax = postTimes.Max / 1000.0,
            DeliveriesExpected = (long)opened * acked.Count,
            Delivered = delivered,
            Lost = analyses.Sum(a => a.Lost),
            Duplicated = analyses.Sum(a => a.Duplicated),
            SeqViolations = analyses.Sum(a => a.SeqViolations),
            ClosedByServer = analyses.Sum(a => a.Closed),
            Drained = drained,
            LatencyP50 = latency.Percentile(50) / 1000.0,
            LatencyP90 = latency.Percentile(90) / 1000.0,
            LatencyP99 = latency.Percentile(99) / 1000.0,
            LatencyP999 = latency.Percentile(99.9) / 1000.0,
            LatencyMax = latency.Max / 1000.0,
            LastDeliveryP50 = lastDelivery.Percentile(50) / 1000.0,
            LastDeliveryP99 = lastDelivery.Percentile(99) / 1000.0,
            LastDeliveryMax = lastDelivery.Max / 1000.0,
            DeliveriesPerSecond = span > 0 ? delivered / span : 0,
            PostsPerSecond = postingSeconds > 0 ? written.Count / postingSeconds : 0,
            ServerCpuMillisPerPost = written.Count == 0 ? 0 : serverCpu * 1e3 / written.Count,
            WindowSeconds = windowSeconds,
            ServerCpuSeconds = serverCpu,
            ServerCpuMicrosPerDelivery = delivered == 0 ? 0 : serverCpu * 1e6 / delivered,
            GatewayCpuMicrosPerDelivery = delivered == 0 ? 0 : gatewayCpu * 1e6 / delivered,
            LoadToolCpuMicrosPerDelivery = delivered == 0 ? 0 : loadCpu * 1e6 / delivered,
        };
    }

    /// <summary>Makes the posts (at the scenario's rate, or closed loop) while showing progress.</summary>
    private async Task<IReadOnlyList<PostRecord>> PostAsync(WorkerPool workers, int opened, double rate, TimeSpan duration, string phase, CancellationToken cancellationToken)
    {
        var records = new ConcurrentBag<PostRecord>();
        var inFlight = new List<Task>();
        var clock = Stopwatch.StartNew();
        var n = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var monitor = ShowPostingAsync(workers, opened, records, clock, duration, phase, stop.Token);

        async Task PostOneAsync(int i)
        {
            var sent = Stopwatch.GetTimestamp();
            try
            {
                var id = scenario.HotPost
                    ? await system.ReactAsync(_hotPost, i % Scenario.HotPostUsers, comment: i % 2 == 0, cancellationToken)
                    : await system.CreatePostAsync($"bench {scenario.Name} {phase} #{i}", cancellationToken);
                records.Add(new PostRecord(id, sent, Stopwatch.GetTimestamp()));
            }
            catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // A failed or timed-out post counts as failed; a stopped run (Ctrl-C, SIGTERM) ends instead.
                records.Add(new PostRecord(0, sent, Stopwatch.GetTimestamp()));
            }
        }

        if (rate > 0)
        {
            var interval = TimeSpan.FromSeconds(1 / rate);
            while (true)
            {
                var due = interval * n;
                if (due >= duration)
                {
                    break;
                }

                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }

                inFlight.Add(PostOneAsync(n++));
            }

            await Task.WhenAll(inFlight);
        }
        else
        {
            // Closed loop: each of the scenario's senders posts again as soon as its post is answered.
            async Task SendAsync()
            {
                while (clock.Elapsed < duration)
                {
                    await PostOneAsync(Interlocked.Increment(ref n));
                }
            }

            await Task.WhenAll(Enumerable.Range(0, scenario.InFlight).Select(_ => Task.Run(SendAsync, cancellationToken)));
        }

        await stop.CancelAsync();
        await monitor;
        return [.. records];
    }

    private async Task ShowPostingAsync(WorkerPool workers, int opened, ConcurrentBag<PostRecord> records, Stopwatch clock, TimeSpan duration, string phase, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var status = await workers.AskAllAsync(new WorkerCommand { Op = "status" });
                var acked = records.Count(r => r.Id > 0);
                Show($"{phase} {clock.Elapsed.TotalSeconds:F0}/{duration.TotalSeconds:F0} s: {acked} acked, {status.Sum(s => s.Received):N0}/{(long)opened * acked:N0} delivered, {status.Sum(s => s.Closed)} closed");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Waits until the workers have <paramref name="expected"/> deliveries, or nothing arrives for 3 s, or the timeout.</summary>
    private async Task<bool> WaitForAsync(WorkerPool workers, long expected, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        var shown = Stopwatch.StartNew();
        long last = -1;
        while (true)
        {
            var status = await workers.AskAllAsync(new WorkerCommand { Op = "status" });
            var received = status.Sum(s => s.Received);
            if (received >= expected)
            {
                return true;
            }

            if (received != last)
            {
                last = received;
                quiet.Restart();
            }

            if (quiet.Elapsed > TimeSpan.FromSeconds(3) || clock.Elapsed > timeout)
            {
                Show($"{what}: stopped waiting at {received:N0}/{expected:N0}");
                return false;
            }

            if (shown.ElapsedMilliseconds >= 1000)
            {
                shown.Restart();
                Show($"{what}: {received:N0}/{expected:N0}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    private void Show(string text) => progress.WriteLine($"[{system.Name} {scenario.Name}] {text}");

    private readonly record struct PostRecord(long Id, long Sent, long Acked);
}
