namespace BookShelf.Bench.Worker;

/// <summary>A command from the orchestrator to a worker (one JSON line on the worker's standard input).</summary>
public sealed record WorkerCommand
{
    /// <summary><c>connect</c>, <c>status</c>, <c>clear</c>, <c>analyze</c>, <c>close</c> or <c>exit</c>.</summary>
    public required string Op { get; init; }

    /// <summary>For <c>connect</c>: where to connect, how many each.</summary>
    public IReadOnlyList<ConnectTarget> Targets { get; init; } = [];

    /// <summary>For <c>connect</c>: local addresses to connect from, used in turn.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary>For <c>connect</c>: connection attempts in flight at once.</summary>
    public int Concurrency { get; init; } = 200;

    /// <summary>For <c>analyze</c>: the acknowledged posts as [id, send timestamp].</summary>
    public IReadOnlyList<long[]> Posts { get; init; } = [];
}

/// <summary>Connections to open to one URL.</summary>
public sealed record ConnectTarget(Uri Url, int Count, WireProtocol Protocol);

/// <summary>A worker's answer (one JSON line on its standard output).</summary>
public sealed record WorkerReport
{
    /// <summary>The command answered, or <c>progress</c>.</summary>
    public required string Ev { get; init; }

    /// <summary>Connections open.</summary>
    public int Open { get; init; }

    /// <summary>Connections that could not be opened.</summary>
    public int Failed { get; init; }

    /// <summary>The first few connect errors.</summary>
    public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>Connections the server closed (or that broke) after they opened.</summary>
    public int Closed { get; init; }

    /// <summary>Deliveries recorded.</summary>
    public long Received { get; init; }

    /// <summary>CPU seconds this worker has used.</summary>
    public double CpuSeconds { get; init; }

    /// <summary>Connect times (µs): histogram pairs and max.</summary>
    public long[][] ConnectPairs { get; init; } = [];

    /// <summary>Largest connect time (µs).</summary>
    public long ConnectMax { get; init; }

    /// <summary>For <c>analyze</c>: deliveries of the listed posts, counted once per connection.</summary>
    public long Delivered { get; init; }

    /// <summary>For <c>analyze</c>: deliveries of a post a connection already had.</summary>
    public long Duplicated { get; init; }

    /// <summary>For <c>analyze</c>: (connection, post) pairs never delivered, over connections that opened.</summary>
    public long Lost { get; init; }

    /// <summary>For <c>analyze</c>: deliveries of posts not in the list (warm-up, unacknowledged).</summary>
    public long Unlisted { get; init; }

    /// <summary>For <c>analyze</c>: seq gaps or repeats seen on BookShelf connections.</summary>
    public long SeqViolations { get; init; }

    /// <summary>For <c>analyze</c>: end-to-end latency (µs) histogram pairs.</summary>
    public long[][] LatencyPairs { get; init; } = [];

    /// <summary>For <c>analyze</c>: largest latency (µs).</summary>
    public long LatencyMax { get; init; }

    /// <summary>For <c>analyze</c>: per listed post, the arrival of its last delivery here (timestamp, 0 if none).</summary>
    public long[] LastArrival { get; init; } = [];

    /// <summary>For <c>analyze</c>: the first and last arrival timestamps of listed posts.</summary>
    public long FirstArrival { get; init; }

    /// <summary>For <c>analyze</c>: see <see cref="FirstArrival"/>.</summary>
    public long FinalArrival { get; init; }
}
