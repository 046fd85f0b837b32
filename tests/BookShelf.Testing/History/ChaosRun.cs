using System.Diagnostics;
using System.Globalization;

namespace BookShelf.Testing.History;

/// <summary>What a chaos run does.</summary>
public sealed record ChaosOptions
{
    /// <summary>The folder under <c>.data/</c> for logs and Redis data.</summary>
    public string Folder { get; init; } = "chaos";

    /// <summary>Silos (3) and gateways (2) to run.</summary>
    public int Silos { get; init; } = 3;

    /// <summary>Gateways to run.</summary>
    public int Gateways { get; init; } = 2;

    /// <summary>Resuming WebSocket clients per gateway.</summary>
    public int ClientsPerGateway { get; init; } = 4;

    /// <summary>Fault rounds to run (each: burst, silo SIGKILL, silo SIGSTOP, gateway SIGKILL, Redis stop).</summary>
    public int Rounds { get; init; } = 1;

    /// <summary>When set, rounds repeat until this much time has passed (the long mode).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Closed-loop writers of a burst.</summary>
    public int BurstWriters { get; init; } = 16;

    /// <summary>How long a burst lasts.</summary>
    public TimeSpan BurstLength { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a silo stays paused.</summary>
    public TimeSpan PauseLength { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long Redis stays stopped.</summary>
    public TimeSpan RedisDownLength { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The steady writers between faults.</summary>
    public WriterOptions Writers { get; init; } = new() { Writers = 4, PostsPerSecond = 20 };

    /// <summary>
    /// <c>rounds</c> (default: the fault rounds above) or one fault alone while the writers run until
    /// <see cref="Operations"/> are done: <c>burst</c> (no fault; the writers are closed-loop), <c>pause</c>
    /// (a silo SIGSTOPped for 15 s), <c>redis</c> (Redis stopped for 5 s), <c>kill</c> (a silo SIGKILLed).
    /// </summary>
    public string Scenario { get; init; } = "rounds";

    /// <summary>Operations of a single-fault scenario.</summary>
    public int Operations { get; init; } = 600;

    /// <summary>Where progress lines go.</summary>
    public Action<string> Log { get; init; } = _ => { };
}

/// <summary>
/// The history checker's run: the real system (Redis, silos, gateways as processes), writers that record every
/// request, resuming WebSocket clients on every gateway that record every frame, and faults injected while it
/// all runs: bursts, SIGKILL and SIGSTOP/SIGCONT of a silo, SIGKILL of a gateway, Redis stop and start. Then
/// <see cref="HistoryCheck"/> judges what the system ended with.
/// </summary>
public static class ChaosRun
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(90);

    /// <summary>Runs the history and checks it.</summary>
    public static async Task<HistoryCheck> RunAsync(ChaosOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var faults = new List<string>();
        await using var system = await LocalSystem.StartAsync(new LocalSystemOptions
        {
            Folder = options.Folder,
            Silos = options.Silos,
            Gateways = options.Gateways,
            GatewayArguments = [.. LocalSystemOptions.RaisedWriteLimits, "--Gateway:Feed:RenewInterval", "00:00:02"],
            SiloArguments = ["--Feed:LeaseDuration", "00:00:08"],
        });
        options.Log($"system up: {options.Silos} silos, {options.Gateways} gateways, redis on {system.RedisPort} ({system.Directory})");
        var clients = new List<ResilientFeedClient>();
        try
        {
            for (var i = 0; i < options.ClientsPerGateway * options.Gateways; i++)
            {
                clients.Add(new ResilientFeedClient(system.Gateways, first: i % options.Gateways));
            }

            foreach (var client in clients)
            {
                await client.WaitLiveAsync(TimeSpan.FromSeconds(30));
            }

            var single = options.Scenario != "rounds";
            await using var writers = await HistoryWriters.StartAsync(system.Gateways, options.Writers, single ? options.Operations : null);
            if (single)
            {
                await SingleFaultAsync(system, writers, options, faults);
            }
            else
            {
                await writers.WaitForMoreAsync(20, Recovery);
                var clock = Stopwatch.StartNew();
                for (var round = 1; round <= options.Rounds || (options.Duration is { } d && clock.Elapsed < d); round++)
                {
                    options.Log($"round {round}");
                    await RoundAsync(system, writers, options, faults);
                }
            }

            await writers.StopAsync();
            var operations = writers.Operations;
            var live = system.Gateways.First(g => g.Process.IsRunning);
            var listed = await HistoryCheck.ListAllAsync(live);
            var converge = Stopwatch.StartNew();
            var ids = listed.Select(p => p.Id).ToHashSet();
            foreach (var client in clients)
            {
                try
                {
                    await client.WaitForAsync(ids, Recovery);
                }
                catch (TimeoutException)
                {
                    // Reported by the check, with what is missing.
                }
            }

            faults.Add(string.Create(CultureInfo.InvariantCulture, $"every client complete {converge.Elapsed.TotalSeconds:F1} s after the writers stopped"));
            return HistoryCheck.Run(operations, listed, clients, faults);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static async Task SingleFaultAsync(LocalSystem system, HistoryWriters writers, ChaosOptions options, List<string> faults)
    {
        if (options.Scenario != "burst")
        {
            await writers.WaitForMoreAsync(60, Recovery);
        }

        var silo = system.Silos[^1];
        var clock = Stopwatch.StartNew();
        switch (options.Scenario)
        {
            case "burst":
                break;
            case "pause":
                silo.Process.Pause();
                await Task.Delay(TimeSpan.FromSeconds(15));
                silo.Process.Resume();
                faults.Add($"silo {silo.Index} SIGSTOP for 15 s, then SIGCONT");
                break;
            case "redis":
                await system.StopRedisAsync();
                await Task.Delay(TimeSpan.FromSeconds(5));
                await system.StartRedisAsync();
                faults.Add("redis stopped for 5 s, then started");
                break;
            case "kill":
                await silo.Process.KillAsync();
                faults.Add($"silo {silo.Index} SIGKILL");
                break;
            default:
                throw new ArgumentException($"unknown scenario '{options.Scenario}' (rounds, burst, pause, redis, kill)");
        }

        options.Log($"{options.Scenario}: fault done after {clock.Elapsed.TotalSeconds:F1} s; writing until {options.Operations} operations");
        await writers.CompletionAsync();
    }

    private static async Task RoundAsync(LocalSystem system, HistoryWriters writers, ChaosOptions options, List<string> faults)
    {
        async Task Recovered(string fault, Stopwatch since)
        {
            await writers.WaitForMoreAsync(10, Recovery);
            var line = string.Create(CultureInfo.InvariantCulture, $"{fault}; writes acknowledged again {since.Elapsed.TotalSeconds:F1} s after it began");
            faults.Add(line);
            options.Log(line);
        }

        var before = writers.Operations.Count;
        var burst = Stopwatch.StartNew();
        await writers.BurstAsync(options.BurstWriters, options.BurstLength);
        faults.Add(string.Create(CultureInfo.InvariantCulture, $"burst of {options.BurstWriters} closed-loop writers for {options.BurstLength.TotalSeconds:F0} s: {(writers.Operations.Count - before) / burst.Elapsed.TotalSeconds:F0} posts/s"));
        options.Log(faults[^1]);

        var silos = system.Silos.Where(s => s.Process.IsRunning).ToList();
        var killed = silos[Random.Shared.Next(silos.Count)];
        var clock = Stopwatch.StartNew();
        await killed.Process.KillAsync();
        await Recovered($"silo {killed.Index} SIGKILL", clock);
        await system.StartSiloAsync();

        silos = system.Silos.Where(s => s.Process.IsRunning).ToList();
        var paused = silos[Random.Shared.Next(silos.Count)];
        clock.Restart();
        paused.Process.Pause();
        await Task.Delay(options.PauseLength);
        paused.Process.Resume();
        await Recovered(string.Create(CultureInfo.InvariantCulture, $"silo {paused.Index} SIGSTOP for {options.PauseLength.TotalSeconds:F0} s, then SIGCONT"), clock);
        // A silo declared dead while it was paused stops itself when it runs again; replace it.
        if (await paused.Process.WaitForExitAsync(TimeSpan.FromSeconds(15)))
        {
            await system.StartSiloAsync();
        }

        var gateway = system.Gateways[Random.Shared.Next(system.Gateways.Count)];
        clock.Restart();
        await gateway.Process.KillAsync();
        await Recovered($"gateway {gateway.Index} SIGKILL", clock);
        await system.RestartGatewayAsync(gateway);

        clock.Restart();
        await system.StopRedisAsync();
        await Task.Delay(options.RedisDownLength);
        await system.StartRedisAsync();
        await Recovered(string.Create(CultureInfo.InvariantCulture, $"redis stopped for {options.RedisDownLength.TotalSeconds:F0} s, then started"), clock);
    }
}
