namespace BookShelf.Bench;

/// <summary>What one system did in one scenario (times in milliseconds unless named otherwise).</summary>
public sealed record ScenarioResult
{
    /// <summary>The system.</summary>
    public required string System { get; init; }

    /// <summary>The scenario.</summary>
    public required string Scenario { get; init; }

    /// <summary>The scenario's load, in words.</summary>
    public required string Load { get; init; }

    /// <summary>Connections asked for.</summary>
    public int Connections { get; init; }

    /// <summary>Gateway processes.</summary>
    public int Gateways { get; init; }

    /// <summary>Connections opened.</summary>
    public int Opened { get; init; }

    /// <summary>Connections that failed to open.</summary>
    public int ConnectFailed { get; init; }

    /// <summary>The first connect errors.</summary>
    public IReadOnlyList<string> ConnectErrors { get; init; } = [];

    /// <summary>Connect time (TCP + upgrade [+ hub handshake]) p50.</summary>
    public double ConnectP50 { get; init; }

    /// <summary>Connect time p99.</summary>
    public double ConnectP99 { get; init; }

    /// <summary>Connect time max.</summary>
    public double ConnectMax { get; init; }

    /// <summary>Posts acknowledged (201).</summary>
    public int PostsAcked { get; init; }

    /// <summary>Posts that failed.</summary>
    public int PostsFailed { get; init; }

    /// <summary>Post creation (request to 201) p50.</summary>
    public double PostP50 { get; init; }

    /// <summary>Post creation p99.</summary>
    public double PostP99 { get; init; }

    /// <summary>Post creation max.</summary>
    public double PostMax { get; init; }

    /// <summary>Opened connections × acknowledged posts.</summary>
    public long DeliveriesExpected { get; init; }

    /// <summary>Distinct (connection, post) deliveries.</summary>
    public long Delivered { get; init; }

    /// <summary>Expected deliveries that never came.</summary>
    public long Lost { get; init; }

    /// <summary>Deliveries of a post a connection already had.</summary>
    public long Duplicated { get; init; }

    /// <summary>BookShelf connections that saw a seq gap or repeat.</summary>
    public long SeqViolations { get; init; }

    /// <summary>Connections the server closed during the run.</summary>
    public int ClosedByServer { get; init; }

    /// <summary>Whether every expected delivery arrived before the drain timeout.</summary>
    public bool Drained { get; init; }

    /// <summary>End-to-end latency, from sending the POST to a client reading the notification: p50.</summary>
    public double LatencyP50 { get; init; }

    /// <summary>p90.</summary>
    public double LatencyP90 { get; init; }

    /// <summary>p99.</summary>
    public double LatencyP99 { get; init; }

    /// <summary>p99.9.</summary>
    public double LatencyP999 { get; init; }

    /// <summary>max.</summary>
    public double LatencyMax { get; init; }

    /// <summary>From a post's send to its last delivery: p50.</summary>
    public double LastDeliveryP50 { get; init; }

    /// <summary>p99.</summary>
    public double LastDeliveryP99 { get; init; }

    /// <summary>max.</summary>
    public double LastDeliveryMax { get; init; }

    /// <summary>Acknowledged posts per second, from the first post sent to the last answered.</summary>
    public double PostsPerSecond { get; init; }

    /// <summary>Server CPU per acknowledged post (with its deliveries), ms.</summary>
    public double ServerCpuMillisPerPost { get; init; }

    /// <summary>Deliveries per second over the measured window.</summary>
    public double DeliveriesPerSecond { get; init; }

    /// <summary>The measured window (first post to the last delivery or the drain timeout), seconds.</summary>
    public double WindowSeconds { get; init; }

    /// <summary>User + system CPU of every server process over the window, seconds.</summary>
    public double ServerCpuSeconds { get; init; }

    /// <summary>Server CPU per delivered message, µs.</summary>
    public double ServerCpuMicrosPerDelivery { get; init; }

    /// <summary>Gateway-process CPU alone per delivered message, µs.</summary>
    public double GatewayCpuMicrosPerDelivery { get; init; }

    /// <summary>The load tool's own CPU (workers and orchestrator) per delivered message, µs.</summary>
    public double LoadToolCpuMicrosPerDelivery { get; init; }

    /// <summary>RSS of every server process before connecting, MB.</summary>
    public double ServerRssBeforeMb { get; init; }

    /// <summary>RSS of every server process after connecting, MB.</summary>
    public double ServerRssAfterMb { get; init; }

    /// <summary>(RSS after − before) / connections, KB: every server process.</summary>
    public double ServerKbPerConnection { get; init; }

    /// <summary>The same for the gateway processes alone, KB.</summary>
    public double GatewayKbPerConnection { get; init; }
}
