namespace BookShelf.Bench;

/// <summary>One measured situation: connections over gateways, and how posts are made.</summary>
/// <param name="Name">Short name used on the command line and in the report.</param>
/// <param name="Connections">WebSocket connections, spread evenly over the gateways.</param>
/// <param name="Gateways">Gateway processes (BookShelf gateways, or SignalR peers).</param>
/// <param name="Rate">Posts per second; 0 means closed loop (the next post when the previous is acknowledged).</param>
/// <param name="Duration">How long posts are made.</param>
/// <param name="Idle">Only connect and measure memory; no posts.</param>
/// <param name="InFlight">In a closed loop: how many posts are in flight at once (each sender posts again when its post is acknowledged).</param>
/// <param name="HotPost">
/// Instead of posts: <see cref="HotPostUsers"/> users commenting on and liking one post (half each), every
/// connection on that post's group; deliveries are checked for the comments, seq order for every event.
/// </param>
public sealed record Scenario(string Name, int Connections, int Gateways, double Rate, TimeSpan Duration, bool Idle = false, int InFlight = 1, bool HotPost = false)
{
    /// <summary>Users writing in a hot-post scenario.</summary>
    public const int HotPostUsers = 500;

    /// <summary>The scenarios of docs/benchmarks.md, in the order they run.</summary>
    public static IReadOnlyList<Scenario> Standard { get; } =
    [
        new("1k-5/s", 1_000, 1, 5, TimeSpan.FromSeconds(20)),
        new("1k-20/s", 1_000, 1, 20, TimeSpan.FromSeconds(20)),
        new("10k-5/s", 10_000, 1, 5, TimeSpan.FromSeconds(20)),
        new("10k-20/s", 10_000, 1, 20, TimeSpan.FromSeconds(20)),
        new("10k-closed", 10_000, 1, 0, TimeSpan.FromSeconds(20)),
        new("15k-idle", 15_000, 1, 0, TimeSpan.Zero, Idle: true),
        new("45k-3gw-5/s", 45_000, 3, 5, TimeSpan.FromSeconds(20)),
        new("hot-site-16", 100, 1, 0, TimeSpan.FromSeconds(20), InFlight: 16),
        new("hot-site-64", 100, 1, 0, TimeSpan.FromSeconds(20), InFlight: 64),
        new("hot-post", 1_000, 1, 0, TimeSpan.FromSeconds(20), InFlight: 64, HotPost: true),
    ];

    /// <summary>How the posts are made, for the report.</summary>
    public string Load => Idle ? "idle" : HotPost ? $"{HotPostUsers} users commenting and liking one post, {InFlight} in flight, for {Duration.TotalSeconds:0} s" : Rate > 0 ? $"{Rate:0.#} posts/s for {Duration.TotalSeconds:0} s" : $"closed loop, {InFlight} in flight, for {Duration.TotalSeconds:0} s";
}
