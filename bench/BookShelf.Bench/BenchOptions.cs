using System.Globalization;

namespace BookShelf.Bench;

/// <summary>The command line of <c>./bookshelf bench</c>.</summary>
public sealed record BenchOptions
{
    /// <summary>The usage text.</summary>
    public const string Usage = """
        ./bookshelf bench [options]        (dotnet run --project bench/BookShelf.Bench -c Release -- [options])

        Starts each system, runs each scenario on it, BookShelf and the SignalR baseline alternating, and prints
        a table (and JSON) of connections, deliveries, latency, server CPU per delivery and memory per connection.

          --scenarios a,b     scenarios to run (default: all): 1k-5/s 1k-20/s 10k-5/s 10k-20/s 10k-closed
                              15k-idle 45k-3gw-5/s hot-site-16 hot-site-64 hot-post
          --systems a,b       bookshelf, signalr (default: both)
          --connections N     a custom scenario instead: N connections ...
          --gateways G        ... over G gateways (default 1) ...
          --rate R            ... R posts/s (0: closed loop; default 5) ...
          --in-flight N       ... with N posts in flight at once (closed loop; default 1) ...
          --duration S        ... for S seconds (default 20; also overrides the standard scenarios')
          --idle              ... connect only (memory)
          --reads             BookShelf's read path instead: home page, /api/posts, a post's page, /healthz and a
                              post as JSON alone, and pages while posts are made (--duration S each, default 15,
                              each load after --warmup S of its own); loaded with wrk when it is installed
          --many-groups       10,000 connections on the site group and one of 1,000 post groups, comments at
                              50/s and posts at 2/s, both systems (--duration S, --warmup S)
          --cold-start        BookShelf's cold start instead: seconds from /readyz to a steady post p99, measured
                              against 90 s of warm control that follow (about 4 minutes in all)
          --json FILE         where the JSON goes (default .data/bench/results-<time>.json)
          --no-floor          skip measuring the send floor (bench/send-floor.c)
          --warmup S          post for S seconds before measuring, so the JIT has tiered up (default 30)
          --hold S            keep the connections open S seconds after measuring (to profile the server)

        Against a system that is already running (no start/stop):
          --ws URL[,URL]      its WebSocket URLs (one per gateway)
          --http URL          where to POST (BookShelf: signs up/in as --user, default "bench")
          --protocol P        bookshelf (default) or signalr
          --pids P[,P]        server process ids to measure (all of them); --gateway-pids the gateways'
        """;

    /// <summary>Scenarios to run.</summary>
    public IReadOnlyList<Scenario> Scenarios { get; init; } = Scenario.Standard;

    /// <summary>Systems to run.</summary>
    public IReadOnlyList<string> Systems { get; init; } = ["bookshelf", "signalr"];

    /// <summary>The JSON output file.</summary>
    public string? JsonPath { get; init; }

    /// <summary>Seconds of posting before the measured window.</summary>
    public double Warmup { get; init; } = 30;

    /// <summary>Seconds to keep the connections open after a scenario.</summary>
    public double Hold { get; init; }

    /// <summary>The <c>--duration</c> given, seconds.</summary>
    public double? Duration { get; init; }

    /// <summary>Run the read-path measurement instead of the scenarios.</summary>
    public bool Reads { get; init; }

    /// <summary>Run the many-groups measurement instead of the scenarios.</summary>
    public bool ManyGroups { get; init; }

    /// <summary>Run the cold-start measurement instead of the scenarios.</summary>
    public bool ColdStart { get; init; }

    /// <summary>Measure the send floor.</summary>
    public bool Floor { get; init; } = true;

    /// <summary>A running system's WebSocket URLs.</summary>
    public IReadOnlyList<Uri> TargetWebSockets { get; init; } = [];

    /// <summary>A running system's HTTP base address.</summary>
    public Uri? TargetHttp { get; init; }

    /// <summary>A running system's protocol.</summary>
    public string TargetProtocol { get; init; } = "bookshelf";

    /// <summary>A running system's server processes.</summary>
    public IReadOnlyList<int> TargetPids { get; init; } = [];

    /// <summary>A running system's gateway processes.</summary>
    public IReadOnlyList<int> TargetGatewayPids { get; init; } = [];

    /// <summary>The BookShelf user the bench posts as, on a running system.</summary>
    public string User { get; init; } = "bench";

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        string? names = null;
        int? connections = null;
        var gateways = 1;
        var rate = 5.0;
        double? duration = null;
        var idle = false;
        var inFlight = 1;
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--scenarios": names = Value(); break;
                case "--systems": options = options with { Systems = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries)] }; break;
                case "--connections": connections = PositiveInt(Value(), "--connections"); break;
                case "--gateways": gateways = PositiveInt(Value(), "--gateways"); break;
                case "--rate": rate = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--duration": duration = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--idle": idle = true; break;
                case "--reads": options = options with { Reads = true, Floor = false }; break;
                case "--many-groups": options = options with { ManyGroups = true, Floor = false }; break;
                case "--cold-start": options = options with { ColdStart = true, Floor = false }; break;
                case "--in-flight": inFlight = PositiveInt(Value(), "--in-flight"); break;
                case "--json": options = options with { JsonPath = Value() }; break;
                case "--no-floor": options = options with { Floor = false }; break;
                case "--warmup": options = options with { Warmup = double.Parse(Value(), CultureInfo.InvariantCulture) }; break;
                case "--hold": options = options with { Hold = double.Parse(Value(), CultureInfo.InvariantCulture) }; break;
                case "--ws": options = options with { TargetWebSockets = [.. Value().Split(',').Select(u => new Uri(u))] }; break;
                case "--http": options = options with { TargetHttp = new Uri(Value()) }; break;
                case "--protocol": options = options with { TargetProtocol = Value() }; break;
                case "--pids": options = options with { TargetPids = [.. Value().Split(',').Select(p => PositiveInt(p, "--pids"))] }; break;
                case "--gateway-pids": options = options with { TargetGatewayPids = [.. Value().Split(',').Select(p => PositiveInt(p, "--gateway-pids"))] }; break;
                case "--user": options = options with { User = Value() }; break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }

        if (options.Systems.Except(["bookshelf", "signalr"]).FirstOrDefault() is { } unknown)
        {
            throw new ArgumentException($"unknown system '{unknown}' (bookshelf, signalr)");
        }

        if (rate < 0)
        {
            throw new ArgumentException("--rate must be 0 (closed loop) or more");
        }

        IReadOnlyList<Scenario> scenarios;
        if (connections is { } n)
        {
            scenarios = [new Scenario($"{n}-{gateways}gw-{(idle ? "idle" : rate > 0 ? $"{rate:0.#}/s" : $"closed{inFlight}")}", n, gateways, rate, TimeSpan.FromSeconds(duration ?? 20), idle, inFlight)];
        }
        else if (names is not null)
        {
            var wanted = names.Split(',', StringSplitOptions.RemoveEmptyEntries);
            scenarios = [.. wanted.Select(w => Scenario.Standard.FirstOrDefault(s => s.Name == w) ?? throw new ArgumentException($"unknown scenario '{w}' ({string.Join(' ', Scenario.Standard.Select(s => s.Name))})"))];
        }
        else
        {
            scenarios = Scenario.Standard;
        }

        if (duration is { } d)
        {
            scenarios = [.. scenarios.Select(s => s.Idle ? s : s with { Duration = TimeSpan.FromSeconds(d) })];
        }

        if (options.TargetWebSockets.Count > 0)
        {
            // One running system: measure it once.
            options = options with { Systems = [options.TargetProtocol == "signalr" ? "signalr" : "bookshelf"] };
        }

        return options with { Scenarios = scenarios, Duration = duration };
    }

    private static int PositiveInt(string value, string name) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{name} takes a positive integer, not '{value}'");
}
