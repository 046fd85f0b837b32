using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;

namespace BookShelf.Bench.Tests;

/// <summary>
/// Keeps <c>./bookshelf bench</c> working: a tiny run of both systems through the real tool (workers, raw
/// WebSockets, /proc figures), checked for what every run must show. Speed itself is never asserted here.
/// </summary>
public sealed class BenchSmokeTests
{
    private const int Connections = 200;

    [Fact]
    public async Task TinyRunOfBothSystemsDeliversEveryPostToEveryConnectionOnce()
    {
        var json = Path.Combine(LocalSystem.RepositoryRoot, ".data", "bench", $"smoke-{Guid.NewGuid():N}.json");
        var (exitCode, output) = await RunBenchAsync(
            ["--connections", Connections.ToString(), "--rate", "5", "--duration", "3", "--warmup", "2", "--no-floor", "--systems", "bookshelf,signalr", "--json", json],
            TimeSpan.FromMinutes(8));
        Assert.True(exitCode == 0, $"the bench exited with {exitCode}:\n{output}");

        var report = JsonNode.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken))!;
        var results = report["results"]!.AsArray();
        Assert.Equal(["bookshelf", "signalr"], results.Select(r => (string?)r!["system"]));
        foreach (var result in results.Select(r => r!))
        {
            var system = (string?)result["system"];
            Assert.Equal(Connections, (int)result["opened"]!);
            Assert.Equal(0, (int)result["connectFailed"]!);
            var posts = (int)result["postsAcked"]!;
            Assert.True(posts >= 10, $"{system}: {posts} posts acknowledged in 3 s at 5/s");
            Assert.Equal(0, (int)result["postsFailed"]!);
            Assert.Equal((long)Connections * posts, (long)result["deliveriesExpected"]!);
            Assert.Equal((long)Connections * posts, (long)result["delivered"]!);
            Assert.Equal(0, (long)result["lost"]!);
            Assert.Equal(0, (long)result["duplicated"]!);
            Assert.Equal(0, (long)result["seqViolations"]!);
            Assert.True((bool)result["drained"]!, $"{system}: not every delivery arrived");
            Assert.True((double)result["latencyP50"]! > 0 && (double)result["latencyP50"]! <= (double)result["latencyMax"]!, $"{system}: latency figures");
            Assert.True((double)result["serverCpuMicrosPerDelivery"]! > 0, $"{system}: server CPU was measured");
            Assert.True((double)result["loadToolCpuMicrosPerDelivery"]! > 0, $"{system}: the load tool's CPU was measured");
        }

        Assert.Contains("| server CPU per delivery", output.Replace("**", "", StringComparison.Ordinal), StringComparison.Ordinal);
        File.Delete(json);
    }

    [Fact]
    public async Task TinyReadsRunMeasuresEveryPageAloneAndWithWrites()
    {
        var (exitCode, output) = await RunBenchAsync(["--reads", "--duration", "2", "--warmup", "1"], TimeSpan.FromMinutes(5));
        Assert.True(exitCode == 0, $"the bench exited with {exitCode}:\n{output}");

        // Every row measured something and nothing failed; speed is not asserted.
        var rows = output.Split('\n').Where(l => l.StartsWith("| `GET ", StringComparison.Ordinal) || l.StartsWith("| hot-site", StringComparison.Ordinal)).ToList();
        Assert.Equal(8, rows.Count);
        Assert.Contains(rows, r => r.StartsWith("| `GET /healthz` alone", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("| `GET /api/posts/", StringComparison.Ordinal));
        foreach (var row in rows)
        {
            var cells = row.Split('|').Select(c => c.Trim()).ToArray();
            var (reads, failed, posts, perRequest) = (cells[2], cells[4], cells[5], cells[8]);
            Assert.True(row.Contains("writes alone", StringComparison.Ordinal) || (reads.Length > 0 && reads != "0" && failed == "0"), $"reads not measured, or some failed: {row}");
            Assert.True(!row.Contains("writes", StringComparison.Ordinal) || (posts.Length > 0 && posts != "0"), $"writes not measured: {row}");
            // A load measured alone has its servers' CPU per request; two at once share the CPU, so none is given.
            Assert.True(row.Contains("at once", StringComparison.Ordinal) ? perRequest.Length == 0 : double.Parse(perRequest, CultureInfo.InvariantCulture) > 0, $"server CPU per request: {row}");
        }

        Assert.Contains("Home page / post's page:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABenchStoppedWithSigtermStopsTheProcessesItStarted()
    {
        // The cold start posts for three minutes once its system is up: long enough to be stopped in the middle.
        using var process = Process.Start(BenchStartInfo(["--cold-start"]))!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Output() { lock (output) { return output.ToString(); } }

        var started = new List<(int Pid, long StartTime)>();
        var cancellationToken = TestContext.Current.CancellationToken;
        try
        {
            // Up: Redis, two silos, a gateway and a load worker run below the bench (or it failed first).
            await Poll.UntilAsync(() => Task.FromResult(process.HasExited || Descendants(process.Id).Any(p => CommandLine(p.Pid).EndsWith(" worker", StringComparison.Ordinal))),
                TimeSpan.FromMinutes(3), "the bench's system and load worker running", cancellationToken: cancellationToken);
            Assert.False(process.HasExited, $"the bench exited before its system was up:\n{Output()}");
            started.AddRange(Descendants(process.Id));
            Assert.True(started.Count >= 5, $"the bench started Redis, two silos, a gateway and a worker: {started.Count} processes");

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(cancellationToken);
                Assert.Equal(0, kill.ExitCode);
            }

            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
            Assert.True(process.ExitCode == 143, $"the bench exited with {process.ExitCode}, not 128 + SIGTERM:\n{Output()}");
            await Poll.UntilAsync(() => Task.FromResult(!started.Any(Runs)), TimeSpan.FromSeconds(30),
                "every process the bench started to exit", cancellationToken: cancellationToken);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Still running: {string.Join(", ", started.Where(Runs).Select(p => $"{p.Pid} ({CommandLine(p.Pid)})"))}\n{Output()}", ex);
        }
        finally
        {
            // Whatever this test's bench left behind is stopped here: the processes it recorded, each still the same
            // process (its start time unchanged), and the bench itself through its own handle.
            foreach (var (pid, _) in started.Where(Runs))
            {
                Kill(pid);
            }

            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static void Kill(int pid)
    {
        try
        {
            using var left = Process.GetProcessById(pid);
            left.Kill();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Gone meanwhile.
        }
    }

    /// <summary>Every process below <paramref name="root"/> (from /proc's parent links), with its start time.</summary>
    private static List<(int Pid, long StartTime)> Descendants(int root)
    {
        var stats = new Dictionary<int, (int Parent, long StartTime)>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid) && Stat(pid) is { } stat)
            {
                stats[pid] = (stat.Parent, stat.StartTime);
            }
        }

        var found = new List<(int Pid, long StartTime)>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out var next))
        {
            foreach (var (child, stat) in stats.Where(s => s.Value.Parent == next))
            {
                found.Add((child, stat.StartTime));
                frontier.Enqueue(child);
            }
        }

        return found;
    }

    /// <summary>A process's state, parent and start time (<see cref="Measure.ProcessStats.StatFields"/>); null if it is gone.</summary>
    private static (char State, int Parent, long StartTime)? Stat(int pid) =>
        Measure.ProcessStats.StatFields(pid) is { } fields
            ? (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[19], CultureInfo.InvariantCulture))
            : null;

    /// <summary>Whether the recorded process still runs: the same start time (not a reused PID), and not a zombie.</summary>
    private static bool Runs((int Pid, long StartTime) process) =>
        Stat(process.Pid) is { } stat && stat.StartTime == process.StartTime && stat.State != 'Z';

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').TrimEnd();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static ProcessStartInfo BenchStartInfo(IReadOnlyList<string> arguments)
    {
        var configuration = typeof(BenchSmokeTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(LocalSystem.RepositoryRoot, "bench", "BookShelf.Bench", "bin", configuration, "net10.0", "BookShelf.Bench.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    private static async Task<(int ExitCode, string Output)> RunBenchAsync(IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        using var process = Process.Start(BenchStartInfo(arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the bench did not finish within {timeout.TotalMinutes:F0} minutes:\n{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
