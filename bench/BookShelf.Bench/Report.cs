using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace BookShelf.Bench;

/// <summary>The results as Markdown tables (BookShelf and the baseline side by side) and as JSON.</summary>
public static class Report
{
    /// <summary>The machine, for the record.</summary>
    public static string Machine()
    {
        var model = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var memory = File.Exists("/proc/meminfo")
            ? File.ReadLines("/proc/meminfo").First().Split(':', 2)[1].Trim()
            : "?";
        return $"{model ?? RuntimeInformation.ProcessArchitecture.ToString()}, {Environment.ProcessorCount} cores, {memory} RAM, {RuntimeInformation.OSDescription}, .NET {Environment.Version}";
    }

    /// <summary>One scenario's table.</summary>
    public static string Table(Scenario scenario, IReadOnlyList<ScenarioResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"### {scenario.Name}: {scenario.Connections:N0} connections on {scenario.Gateways} gateway(s), {scenario.Load}");
        sb.AppendLine();
        sb.AppendLine("| | " + string.Join(" | ", results.Select(r => r.System)) + " |");
        sb.AppendLine("|---|" + string.Concat(results.Select(_ => "---:|")));
        void Row(string name, Func<ScenarioResult, string> cell) => sb.AppendLine($"| {name} | " + string.Join(" | ", results.Select(cell)) + " |");
        Row("connections opened / failed", r => $"{r.Opened:N0} / {r.ConnectFailed:N0}");
        Row("connect p50 / p99 / max (ms)", r => $"{r.ConnectP50:F1} / {r.ConnectP99:F1} / {r.ConnectMax:F0}");
        Row("server memory per connection, all / gateways (KB)", r => $"{r.ServerKbPerConnection:F1} / {r.GatewayKbPerConnection:F1}");
        if (!scenario.Idle)
        {
            Row("posts acknowledged / failed", r => $"{r.PostsAcked:N0} / {r.PostsFailed:N0}");
            Row("posts per second", r => $"{r.PostsPerSecond:N0}");
            Row("post creation p50 / p99 / max (ms)", r => $"{r.PostP50:F1} / {r.PostP99:F1} / {r.PostMax:F0}");
            Row("server CPU per post (ms)", r => $"{r.ServerCpuMillisPerPost:F2}");
            Row("deliveries expected / received", r => $"{r.DeliveriesExpected:N0} / {r.Delivered:N0}");
            Row("lost / duplicated", r => $"{r.Lost:N0} / {r.Duplicated:N0}");
            Row("end-to-end p50 / p90 / p99 / p99.9 / max (ms)", r => $"{r.LatencyP50:F1} / {r.LatencyP90:F1} / {r.LatencyP99:F1} / {r.LatencyP999:F1} / {r.LatencyMax:F0}");
            Row("post to its last delivery p50 / p99 / max (ms)", r => $"{r.LastDeliveryP50:F1} / {r.LastDeliveryP99:F1} / {r.LastDeliveryMax:F0}");
            Row("deliveries per second", r => $"{r.DeliveriesPerSecond:N0}");
            Row("**server CPU per delivery (µs)**, all / gateways", r => $"**{r.ServerCpuMicrosPerDelivery:F2}** / {r.GatewayCpuMicrosPerDelivery:F2}");
            Row("load tool CPU per delivery (µs)", r => $"{r.LoadToolCpuMicrosPerDelivery:F2}");
            Row("connections closed by the server", r => $"{r.ClosedByServer:N0}");
        }

        if (scenario.HotPost)
        {
            sb.AppendLine("\nWrites (\"posts\" above) are the hot post's comments and likes, half each; deliveries and latency are checked for the comments, seq order (BookShelf) for every event.");
        }

        foreach (var r in results.Where(r => r.ConnectErrors.Count > 0))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"\n{r.System} connect errors: {string.Join("; ", r.ConnectErrors)}");
        }

        if (results.Count == 2 && !scenario.Idle && results[1].ServerCpuMicrosPerDelivery > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"\n{results[0].System} / {results[1].System}: posts/s {Ratio(results[0].PostsPerSecond, results[1].PostsPerSecond)}, server CPU per post {Ratio(results[0].ServerCpuMillisPerPost, results[1].ServerCpuMillisPerPost)}, server CPU per delivery {results[0].ServerCpuMicrosPerDelivery / results[1].ServerCpuMicrosPerDelivery:P0}, p99 latency {Ratio(results[0].LatencyP99, results[1].LatencyP99)}, memory per connection {Ratio(results[0].ServerKbPerConnection, results[1].ServerKbPerConnection)}.");
        }
        else if (results.Count == 2 && scenario.Idle)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"\n{results[0].System} / {results[1].System}: memory per connection {Ratio(results[0].ServerKbPerConnection, results[1].ServerKbPerConnection)}.");
        }

        return sb.ToString();
    }

    private static string Ratio(double a, double b) => b > 0 ? (a / b).ToString("P0", CultureInfo.InvariantCulture) : "n/a";
}
