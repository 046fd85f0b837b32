using System.Diagnostics;
using System.Text;

namespace BookShelf.Cluster.Tests;

/// <summary>
/// What operators use, on the real processes: one OpenTelemetry trace from <c>POST /api/posts</c> on the gateway
/// into the silo's grains, exported over OTLP; <c>./bookshelf status</c>'s view of the cluster from Orleans' own
/// management grain; the Orleans Dashboard on a silo that enables it; the runtime's figures (GC pauses, thread pool)
/// next to Orleans' on every host's <c>/metrics</c>.
/// </summary>
public sealed class OperatorTests : IAsyncLifetime
{
    private OtlpReceiver _collector = null!;
    private LocalSystem _system = null!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        _collector = OtlpReceiver.Start();
        string[] otlp = ["--OTEL_EXPORTER_OTLP_ENDPOINT", _collector.Endpoint, "--OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "--OTEL_BSP_SCHEDULE_DELAY", "200"];
        _system = await LocalSystem.StartAsync(new LocalSystemOptions
        {
            Folder = "operators",
            Silos = 1,
            Gateways = 1,
            // The log levels the hosts ship with (appsettings.json), with this solution's own lines at Debug.
            SiloArguments = [.. otlp, "--Silo:Dashboard", "true", .. ShippedLogLevels],
            GatewayArguments = [.. otlp, .. ShippedLogLevels],
        });
    }

    private static readonly string[] ShippedLogLevels = ["--Logging:LogLevel:Default", "Information", "--Logging:LogLevel:BookShelf", "Debug"];

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _system.DisposeAsync();
        await _collector.DisposeAsync();
    }

    [Fact]
    public async Task APostsTraceSpansTheGatewayAndTheSilosGrains()
    {
        using var api = new ApiClient(_system.Gateways[0].BaseAddress);
        await api.SignUpAndSignInAsync();
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/posts") { Content = System.Net.Http.Json.JsonContent.Create(new { title = "Traced", body = "Follow me." }) };
        request.Headers.Add("traceparent", $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var response = await api.Http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var id = Convert.FromHexString(traceId.ToHexString());
        bool From(string service, string? span = null) => _collector.Exports.Any(e =>
            Contains(e, id) && Contains(e, Encoding.UTF8.GetBytes(service)) && (span is null || Contains(e, Encoding.UTF8.GetBytes(span))));
        await Poll.UntilAsync(() => Task.FromResult(From("bookshelf-gateway", "POST") && From("bookshelf-silo", "PostCreatorGrain")), TimeSpan.FromSeconds(30),
            "spans of the trace from the gateway (its HTTP request) and from the silo (the create's grain call)", cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task PlacingAGrainWritesNoLineToAnOperatorsLog()
    {
        // Orleans 10 places activations through a Polly pipeline, which logs every placement at Information: two lines
        // per new activation (every post read after its activation was collected, every group) in a log at its default level.
        using var api = new ApiClient(_system.Gateways[0].BaseAddress);
        await api.SignUpAndSignInAsync();
        var id = await api.CreatePostAsync("Placed", "Read me.");
        Assert.NotNull(await api.GetJsonAsync($"/api/posts/{id}"));

        // The site feed and the id block were placed before the silo logged the post's creation, and a logger writes its
        // lines in order: once that line is in the file, so is any line of theirs. (The read's placement may still be queued.)
        var silo = _system.Silos[0].Process.LogPath;
        await Poll.UntilAsync(() => Task.FromResult(File.ReadLines(silo).Any(l => l.Contains($"Post {id} created", StringComparison.Ordinal))), TimeSpan.FromSeconds(10),
            $"the silo's Debug line for post {id}", cancellationToken: TestContext.Current.CancellationToken);
        foreach (var log in new[] { silo, _system.Gateways[0].Process.LogPath })
        {
            var placements = File.ReadLines(log).Where(l => l.Contains("Polly", StringComparison.Ordinal) || l.Contains("Orleans.Placement", StringComparison.Ordinal)).ToList();
            Assert.True(placements.Count == 0, $"{Path.GetFileName(log)} logged placements:\n{string.Join('\n', placements.Take(6))}");
        }
    }

    [Fact]
    public async Task StatusReadsTheClusterFromOrleansItself()
    {
        var silo = LocalSystem.SiloDll;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { silo, "status", "--Orleans:ClusterId", _system.ClusterId, "--Orleans:ServiceId", _system.ClusterId })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["Silo__Redis"] = _system.RedisConnection;
        using var status = Process.Start(start)!;
        var output = status.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = status.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await status.WaitForExitAsync(timeout.Token);
        var text = await output;
        Assert.True(status.ExitCode == 0, $"exit {status.ExitCode}: {text}{await errors}");
        Assert.Contains("1 active of 1", text, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:", text, StringComparison.Ordinal);
        Assert.Matches(@"\bActive\b", text);
    }

    [Fact]
    public async Task TheDashboardIsServedOnTheSilosHttpPort()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var page = await http.GetAsync(new Uri($"http://127.0.0.1:{_system.Silos[0].HttpPort}/dashboard/"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Orleans Dashboard", await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        // The gateway, the public port, has no dashboard.
        using var gateway = await http.GetAsync(new Uri(_system.Gateways[0].BaseAddress, "/dashboard/"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, gateway.StatusCode);
    }

    [Fact]
    public async Task EveryHostsMetricsCarryTheRuntimesGcPausesAndThreadPoolBesideItsOwn()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var hosts = new (string Name, Uri Metrics, string Own)[]
        {
            ("gateway", new Uri(_system.Gateways[0].BaseAddress, "/metrics"), "kestrel_"),
            ("silo", new Uri($"http://127.0.0.1:{_system.Silos[0].HttpPort}/metrics"), "orleans_"),
        };
        foreach (var (name, metrics, own) in hosts)
        {
            var lines = (await http.GetStringAsync(metrics, TestContext.Current.CancellationToken)).Split('\n');
            double Value(string metric) =>
                lines.Where(l => l.StartsWith(metric, StringComparison.Ordinal)).Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
                    .DefaultIfEmpty(double.NaN).Sum();
            Assert.True(Value("dotnet_gc_pause_time_seconds_total") >= 0, $"{name}: no GC pause time");
            // Every host has collected by the time it is ready (startup allocates well past one gen0 budget).
            Assert.True(Value("dotnet_gc_collections_total") >= 1, $"{name}: no GC collections counted");
            Assert.True(Value("dotnet_thread_pool_thread_count") >= 1, $"{name}: no thread-pool size");
            Assert.Contains(lines, l => l.StartsWith(own, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task NoHostWatchesTheFolderItWasStartedFromWhereRedisAndTheLogsWrite()
    {
        var started = _system.Directory;
        var folder = await InodeAsync(started);
        foreach (var process in _system.Silos.Select(s => s.Process).Concat(_system.Gateways.Select(g => g.Process)))
        {
            Assert.Equal(Path.GetFullPath(started).TrimEnd('/'), new DirectoryInfo($"/proc/{process.Id}/cwd").ResolveLinkTarget(true)!.FullName.TrimEnd('/'));
            // Every folder an inotify instance of the process watches, by inode: the host's content root and those below it.
            var watched = System.IO.Directory.GetFiles($"/proc/{process.Id}/fdinfo")
                .SelectMany(File.ReadLines)
                .Where(l => l.StartsWith("inotify wd:", StringComparison.Ordinal))
                .Select(l => l.Split(' ').Single(f => f.StartsWith("ino:", StringComparison.Ordinal))[4..])
                .ToList();
            Assert.DoesNotContain(folder, watched);
        }
    }

    /// <summary>A folder's inode number in hex, as /proc's fdinfo writes it.</summary>
    private static async Task<string> InodeAsync(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        var inode = (await stat.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken)).Trim();
        await stat.WaitForExitAsync(TestContext.Current.CancellationToken);
        return ulong.Parse(inode, System.Globalization.CultureInfo.InvariantCulture).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
