using BookShelf.Bench.Worker;
using BookShelf.Testing;

namespace BookShelf.Bench.Systems;

/// <summary>
/// BookShelf as <c>./bookshelf up</c> runs it: redis-server (append-only, fsync every second), two silos and
/// the given number of gateways, as processes on loopback; writes limits raised so the bench is not throttled.
/// </summary>
public sealed class BookShelfSystem : ISystemUnderTest
{
    private readonly LocalSystem? _system;
    private readonly PostClient _posts;
    private IReadOnlyList<string> _users = [];

    private BookShelfSystem(LocalSystem? system, IReadOnlyList<Uri> webSockets, IReadOnlyList<int> serverPids, IReadOnlyList<int> gatewayPids, PostClient posts)
    {
        _system = system;
        BaseAddress = posts.BaseAddress;
        WebSocketUris = webSockets;
        ServerPids = serverPids;
        GatewayPids = gatewayPids;
        _posts = posts;
    }

    /// <inheritdoc />
    public string Name => "bookshelf";

    /// <inheritdoc />
    public WireProtocol Protocol => WireProtocol.BookShelf;

    /// <inheritdoc />
    public IReadOnlyList<Uri> WebSocketUris { get; }

    /// <summary>The (first) gateway's HTTP address.</summary>
    public Uri BaseAddress { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> ServerPids { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> GatewayPids { get; }

    /// <summary>Each started gateway's and silo's Prometheus endpoint, by name (empty for an attached system).</summary>
    public IReadOnlyList<(string Name, Uri Metrics)> MetricsEndpoints =>
        _system is null ? [] :
        [
            .. _system.Gateways.Select((g, i) => ($"gateway {i + 1}", new Uri(g.BaseAddress, "metrics"))),
            .. _system.Silos.Select((s, i) => ($"silo {i + 1}", new Uri($"http://127.0.0.1:{s.HttpPort}/metrics"))),
        ];

    /// <summary>Starts the system with <paramref name="gateways"/> gateways.</summary>
    public static async Task<BookShelfSystem> StartAsync(int gateways, CancellationToken cancellationToken)
    {
        var system = await LocalSystem.StartAsync(new LocalSystemOptions
        {
            Folder = "bench",
            Silos = 2,
            Gateways = gateways,
            RedisAppendFsync = "everysec",
            GatewayArguments =
            [
                .. LocalSystemOptions.RaisedWriteLimits,
                "--Gateway:SignInPermitLimit", "1000", "--Gateway:SignInPermitLimitPerAddress", "1000",
                "--Gateway:SignUpPermitLimitPerAddress", "1000", "--Gateway:SignUpPermitLimit", "100000",
                "--Gateway:MaxConnectionsPerAddress", "100000",
            ],
            // A hot post takes every comment the bench makes.
            SiloArguments = ["--Feed:MaxCommentsPerPost", "1000000"],
        });
        try
        {
            var posts = new PostClient(system.Gateways[0].BaseAddress);
            await posts.SignInAsync("bench", "bench password", cancellationToken);
            int[] gatewayPids = [.. system.Gateways.Select(g => g.Process.Id)];
            return new BookShelfSystem(
                system,
                [.. system.Gateways.Select(g => g.WebSocketUri())],
                [.. gatewayPids, .. system.Silos.Select(s => s.Process.Id), system.Redis.Id],
                gatewayPids,
                posts);
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    /// <summary>A system started elsewhere (<c>./bookshelf up</c>): posts go to <paramref name="http"/> as <paramref name="user"/>.</summary>
    public static async Task<BookShelfSystem> AttachAsync(Uri http, IReadOnlyList<Uri> webSockets, IReadOnlyList<int> serverPids, IReadOnlyList<int> gatewayPids, string user, string password, CancellationToken cancellationToken)
    {
        var posts = new PostClient(http);
        await posts.SignInAsync(user, password, cancellationToken);
        return new BookShelfSystem(null, webSockets, serverPids, gatewayPids, posts);
    }

    /// <inheritdoc />
    public Task<long> CreatePostAsync(string title, CancellationToken cancellationToken) => _posts.CreateAsync(title, cancellationToken);

    /// <inheritdoc />
    public WireProtocol SiteAndPostProtocol => WireProtocol.BookShelfAnyGroup;

    /// <inheritdoc />
    public IReadOnlyList<Uri> SiteAndPostUris(long postId) => [.. WebSocketUris.Select(u => new UriBuilder(u) { Query = $"groups=site,post-{postId}" }.Uri)];

    /// <inheritdoc />
    public async Task<long?> ActivationsAsync(CancellationToken cancellationToken)
    {
        if (_system is null)
        {
            return null;
        }

        // Orleans' own gauge, summed over its label sets, on every live silo's Prometheus endpoint.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        long total = 0;
        foreach (var silo in _system.Silos.Where(s => s.Process.IsRunning))
        {
            var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{silo.HttpPort}/metrics"), cancellationToken);
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith("orleans_catalog_activations", StringComparison.Ordinal) && !line.StartsWith("orleans_catalog_activations_", StringComparison.Ordinal)
                    && double.TryParse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value))
                {
                    total += (long)value;
                }
            }
        }

        return total;
    }

    /// <inheritdoc />
    public WireProtocol PostGroupProtocol => WireProtocol.BookShelfComments;

    /// <inheritdoc />
    public IReadOnlyList<Uri> PostGroupUris(long postId) => [.. WebSocketUris.Select(u => new UriBuilder(u) { Query = $"groups=post-{postId}" }.Uri)];

    /// <inheritdoc />
    public async Task PrepareUsersAsync(int users, CancellationToken cancellationToken) =>
        _users = await _posts.SignInManyAsync("reader", users, "bench password", cancellationToken);

    /// <inheritdoc />
    public Task<long> ReactAsync(long postId, int user, bool comment, CancellationToken cancellationToken) =>
        _posts.ReactAsync(postId, comment, _users[user % _users.Count], cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _posts.Dispose();
        if (_system is not null)
        {
            await _system.DisposeAsync();
        }
    }
}
