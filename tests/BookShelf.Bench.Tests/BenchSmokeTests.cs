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

    private static async Task<(int ExitCode, string Output)> RunBenchAsync(IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var configuration = typeof(BenchSmokeTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(LocalSystem.RepositoryRoot, "bench", "BookShelf.Bench", "bin", configuration, "net10.0", "BookShelf.Bench.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
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
