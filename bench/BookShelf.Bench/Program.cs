using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using BookShelf.Bench;
using BookShelf.Bench.Measure;
using BookShelf.Bench.Systems;
using BookShelf.Bench.Worker;
using BookShelf.Testing;

if (args.Length > 0 && args[0] == "worker")
{
    return WorkerHost.Run();
}

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or UriFormatException)
{
    Console.Error.WriteLine($"bench: {ex.Message}\n\n{BenchOptions.Usage}");
    return 2;
}

using var cancel = new CancellationTokenSource();
// Ctrl-C and SIGTERM (kill, a supervisor, a CI timeout) stop a run: on the way out, the Redis, silos, gateways and
// workers it started are stopped too (without the SIGTERM handler the runtime exited at once and left them running).
// The run exits with 128 + the signal's number. A second signal ends the process at once.
var stoppedWith = 0;
void Stop(int exitCode)
{
    stoppedWith = stoppedWith == 0 ? exitCode : stoppedWith;
    cancel.Cancel();
}

Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !cancel.IsCancellationRequested;
    Stop(130);
};
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = !cancel.IsCancellationRequested;
    Stop(143);
});

var progress = Console.Error;
try
{
    return await RunAsync();
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    progress.WriteLine($"[bench] stopped; the processes it started are stopped (exit {stoppedWith})");
    return stoppedWith;
}

async Task<int> RunAsync()
{
    var started = DateTimeOffset.UtcNow;
    var command = "./bookshelf bench " + string.Join(' ', args);
    progress.WriteLine($"[bench] {Report.Machine()}");

    (double? Micros, string Detail) floor = (null, "not measured (--no-floor)");
    if (options.Floor)
    {
        progress.WriteLine("[bench] measuring the send floor: 10,000 loopback connections, 20 rounds");
        floor = await SendFloor.MeasureAsync(10_000, 20, Ports.Free(), cancel.Token);
        progress.WriteLine($"[bench] send floor: {floor.Detail}");
    }

    if (options.ManyGroups)
    {
        var columns = new List<(string System, IReadOnlyList<(string Name, string Value)> Rows)>();
        foreach (var name in options.Systems)
        {
            progress.WriteLine($"[bench] many-groups on {name}: starting the system");
            await using var system = name == "signalr"
                ? (ISystemUnderTest)await SignalRSystem.StartAsync(1, cancel.Token)
                : await BookShelfSystem.StartAsync(1, cancel.Token);
            columns.Add((name, await new ManyGroupsRunner(system, progress, TimeSpan.FromSeconds(options.Duration ?? 20), TimeSpan.FromSeconds(options.Warmup)).RunAsync(cancel.Token)));
        }

        Console.WriteLine($"### many-groups: {ManyGroupsRunner.Connections:N0} connections, each on the site group and one of {ManyGroupsRunner.Groups:N0} post groups; {ManyGroupsRunner.CommentRate:0} comments/s over the posts, {ManyGroupsRunner.PostRate:0} posts/s, for {options.Duration ?? 20:0} s\n");
        Console.WriteLine("| | " + string.Join(" | ", columns.Select(c => c.System)) + " |");
        Console.WriteLine("|---|" + string.Concat(columns.Select(_ => "---:|")));
        for (var r = 0; r < columns[0].Rows.Count; r++)
        {
            Console.WriteLine($"| {columns[0].Rows[r].Name} | " + string.Join(" | ", columns.Select(c => c.Rows[r].Value)) + " |");
        }

        return 0;
    }

    if (options.Reads || options.ColdStart)
    {
        // BookShelf alone: the baseline has no pages and its start is not what is measured.
        if (options.ColdStart)
        {
            Console.WriteLine(await ColdStartRunner.RunAsync(progress, cancel.Token));
        }

        if (options.Reads)
        {
            await using var readsSystem = await BookShelfSystem.StartAsync(1, cancel.Token);
            Console.WriteLine(await new ReadsRunner(readsSystem, progress, TimeSpan.FromSeconds(options.Duration ?? 15), TimeSpan.FromSeconds(options.Warmup)).RunAsync(cancel.Token));
        }

        return 0;
    }

    var results = new List<ScenarioResult>();
    var tables = new List<string>();
    foreach (var scenario in options.Scenarios)
    {
        var row = new List<ScenarioResult>();
        foreach (var name in options.Systems)
        {
            progress.WriteLine($"[bench] {scenario.Name} on {name}: starting the system");
            try
            {
                await using var system = await StartAsync(name, scenario, options, cancel.Token);
                row.Add(await new ScenarioRunner(system, scenario, progress, TimeSpan.FromSeconds(options.Warmup), TimeSpan.FromSeconds(options.Hold)).RunAsync(cancel.Token));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                progress.WriteLine($"[bench] {scenario.Name} on {name} failed: {ex}");
                return 1;
            }

            progress.WriteLine($"[bench] {scenario.Name} on {name}: done");
        }

        results.AddRange(row);
        var table = Report.Table(scenario, row);
        tables.Add(table);
        Console.WriteLine(table);
    }

    var json = options.JsonPath ?? Path.Combine(LocalSystem.RepositoryRoot, ".data", "bench", $"results-{started:yyyyMMdd-HHmmss}.json");
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(json))!);
    await File.WriteAllTextAsync(json, JsonSerializer.Serialize(new
    {
        command,
        date = started.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
        machine = Report.Machine(),
        sendFloorMicrosPerMessage = floor.Micros,
        sendFloor = floor.Detail,
        results,
    }, Json.Indented));
    Console.WriteLine($"Send floor (bench/send-floor.c, 10,000 connections): {(floor.Micros is { } f ? $"{f:F2} µs per message" : floor.Detail)}");
    Console.WriteLine($"JSON: {json}");
    return 0;
}

static async Task<ISystemUnderTest> StartAsync(string name, Scenario scenario, BenchOptions options, CancellationToken cancellationToken)
{
    if (options.TargetWebSockets.Count > 0)
    {
        var http = options.TargetHttp ?? throw new ArgumentException("--ws needs --http");
        var gatewayPids = options.TargetGatewayPids.Count > 0 ? options.TargetGatewayPids : options.TargetPids;
        return options.TargetProtocol == "signalr"
            ? SignalRSystem.Attach(http, options.TargetWebSockets, options.TargetPids, gatewayPids)
            : await BookShelfSystem.AttachAsync(http, options.TargetWebSockets, options.TargetPids, gatewayPids, options.User, "bench password", cancellationToken);
    }

    return name == "signalr"
        ? await SignalRSystem.StartAsync(scenario.Gateways, cancellationToken)
        : await BookShelfSystem.StartAsync(scenario.Gateways, cancellationToken);
}
