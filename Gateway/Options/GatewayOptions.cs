using System.ComponentModel.DataAnnotations;

namespace BookShelf.Gateway.Options;

/// <summary>The gateway node's settings (configuration section <c>Gateway</c>).</summary>
public sealed class GatewayOptions : BookShelf.ServiceDefaults.RedisClientOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Gateway";

    /// <summary>
    /// Origins (<c>scheme://host[:port]</c>) whose pages may open the WebSocket. Empty: only the gateway's own
    /// origin. Requests without an Origin header (scripts) are allowed.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>
    /// A PFX certificate file that encrypts the data-protection key ring where it is stored (Redis). Without one the
    /// keys that sign every cookie and token lie in Redis as plain XML, and the gateway warns at start.
    /// </summary>
    public string? DataProtectionCertificatePath { get; set; }

    /// <summary>The password of <see cref="DataProtectionCertificatePath"/> (give it in the environment).</summary>
    public string? DataProtectionCertificatePassword { get; set; }

    /// <summary>
    /// Addresses of the load balancers or proxies in front of this gateway. Only their <c>X-Forwarded-For</c> and
    /// <c>X-Forwarded-Proto</c> are believed: the client's address (for rate limits and caps) and HTTPS (for the
    /// cookie's <c>Secure</c> flag). Empty: none are believed.
    /// </summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Largest client WebSocket message, in bytes.</summary>
    [Range(64, 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 4096;

    /// <summary>Most WebSocket connections this gateway holds; past it an upgrade gets 503.</summary>
    [Range(1, 10_000_000)]
    public int MaxConnections { get; set; } = 50_000;

    /// <summary>Most WebSocket connections from one client address; past it an upgrade gets 429.</summary>
    [Range(1, 10_000_000)]
    public int MaxConnectionsPerAddress { get; set; } = 1_000;

    /// <summary>Most groups one connection may subscribe to.</summary>
    [Range(1, 10_000)]
    public int MaxSubscriptionsPerConnection { get; set; } = 32;

    /// <summary>Subscribes and unsubscribes one connection may send a minute; past it they get a <c>rate_limited</c> error.</summary>
    [Range(1, 100_000)]
    public int SubscriptionChangesPerMinute { get; set; } = 120;

    /// <summary>Frames queued for one connection before it counts as too slow and is closed with a resume hint.</summary>
    [Range(1, 100_000)]
    public int SendQueueLimit { get; set; } = 512;

    /// <summary>
    /// SO_SNDBUF of accepted connections in bytes (0: the OS default, which autotunes up to megabytes). A small
    /// value caps the kernel memory a stalled client can pin and makes <see cref="SendQueueLimit"/> bite sooner.
    /// </summary>
    [Range(0, 64 * 1024 * 1024)]
    public int SocketSendBufferBytes { get; set; }

    /// <summary>How often the server pings each connection.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a connection may leave a ping unanswered before it is closed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Longest life of one Server-Sent Events stream. SSE has no ping to answer, so a client that vanished without
    /// closing would count (presence, caps) until TCP gave up; the gateway ends each stream after this, and a live
    /// browser reconnects within a second and resumes through <c>Last-Event-ID</c>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00")]
    public TimeSpan SseMaxAge { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long the cluster may not answer before this gateway closes its connections (4002) so their clients
    /// resume on another gateway, and refuses new ones (503) until it answers again.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan ClusterLostAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Lifetime of bearer tokens from <c>POST /api/tokens</c>.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Sign-in attempts allowed per user name from one client address in each window.</summary>
    [Range(1, 100_000)]
    public int SignInPermitLimit { get; set; } = 10;

    /// <summary>Sign-in attempts allowed per user name from all addresses together in each window (a backstop).</summary>
    [Range(1, 1_000_000)]
    public int SignInPermitLimitPerUserEverywhere { get; set; } = 200;

    /// <summary>Sign-ups this gateway allows in each window, from everyone together.</summary>
    [Range(1, 1_000_000)]
    public int SignUpPermitLimit { get; set; } = 300;

    /// <summary>Sign-ups allowed per client address in each window.</summary>
    [Range(1, 1_000_000)]
    public int SignUpPermitLimitPerAddress { get; set; } = 20;

    /// <summary>Sign-in attempts allowed per client address in each window.</summary>
    [Range(1, 1_000_000)]
    public int SignInPermitLimitPerAddress { get; set; } = 100;

    /// <summary>Writes (posts, comments, likes) allowed per user in each window.</summary>
    [Range(1, 1_000_000)]
    public int WritePermitLimit { get; set; } = 60;

    /// <summary>Writes allowed per client address in each window.</summary>
    [Range(1, 1_000_000)]
    public int WritePermitLimitPerAddress { get; set; } = 600;

    /// <summary>The rate limit window.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Timeout of one attempt of a grain call made for an HTTP request.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan GrainCallTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long a request's grain call is retried after the cluster failed it (a silo died, moved or paused,
    /// storage did not answer) before the request is answered 503 with its outcome unknown.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan RequestRetryBudget { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>Post ids this gateway reserves at once.</summary>
    [Range(1, 100_000)]
    public int PostIdBlockSize { get; set; } = 100;
}
