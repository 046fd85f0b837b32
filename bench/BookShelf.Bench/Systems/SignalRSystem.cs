using System.Diagnostics;
using System.Globalization;
using BookShelf.Bench.Worker;
using BookShelf.Testing;

namespace BookShelf.Bench.Systems;

/// <summary>
/// The baseline: ASP.NET Core SignalR with the Redis backplane (<c>bench/peers/signalr</c>), started with its own
/// <c>run.sh</c>: a redis-server and the given number of peer processes.
/// </summary>
public sealed class SignalRSystem : ISystemUnderTest
{
    private readonly string? _script;
    private readonly Dictionary<string, string> _environment;
    private readonly PostClient _posts;

    private SignalRSystem(string? script, Dictionary<string, string> environment, IReadOnlyList<Uri> webSockets, IReadOnlyList<int> serverPids, IReadOnlyList<int> gatewayPids, PostClient posts)
    {
        _script = script;
        _environment = environment;
        WebSocketUris = webSockets;
        ServerPids = serverPids;
        GatewayPids = gatewayPids;
        _posts = posts;
    }

    /// <inheritdoc />
    public string Name => "signalr";

    /// <inheritdoc />
    public WireProtocol Protocol => WireProtocol.SignalR;

    /// <inheritdoc />
    public IReadOnlyList<Uri> WebSocketUris { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> ServerPids { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> GatewayPids { get; }

    /// <summary>The peer's start script in this repository.</summary>
    public static string Script => Path.Combine(LocalSystem.RepositoryRoot, "bench", "peers", "signalr", "run.sh");

    /// <summary>Starts redis-server and <paramref name="processes"/> peers on free loopback ports.</summary>
    public static async Task<SignalRSystem> StartAsync(int processes, CancellationToken cancellationToken)
    {
        var basePort = FreeRange(processes);
        var state = Path.Combine(LocalSystem.RepositoryRoot, ".data", "bench", "signalr");
        var environment = new Dictionary<string, string>
        {
            ["STATE"] = state,
            ["BASE_PORT"] = basePort.ToString(CultureInfo.InvariantCulture),
            ["REDIS_PORT"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
        };
        // The start itself is not cancelled (it is bounded): a start cut short would leave what it started running.
        await RunAsync(Script, ["start", processes.ToString(CultureInfo.InvariantCulture)], environment, CancellationToken.None);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            var peers = (await RunAsync(Script, ["pids"], environment, cancellationToken)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            var redis = int.Parse(File.ReadAllText(Path.Combine(state, "pids", "redis.pid")).Trim(), CultureInfo.InvariantCulture);
            var posts = new PostClient(new Uri($"http://127.0.0.1:{basePort}/"));
            return new SignalRSystem(
                Script,
                environment,
                [.. Enumerable.Range(0, processes).Select(i => new Uri($"ws://127.0.0.1:{basePort + i}/ws/update_notice"))],
                [.. peers, redis],
                peers,
                posts);
        }
        catch
        {
            await RunAsync(Script, ["stop"], environment, CancellationToken.None);
            throw;
        }
    }

    /// <inheritdoc />
    public WireProtocol SiteAndPostProtocol => WireProtocol.SignalR;

    /// <inheritdoc />
    public IReadOnlyList<Uri> SiteAndPostUris(long postId) => [.. WebSocketUris.Select(u => new UriBuilder(u) { Query = $"post={postId}&site=1" }.Uri)];

    /// <inheritdoc />
    public Task<long?> ActivationsAsync(CancellationToken cancellationToken) => Task.FromResult<long?>(null);

    /// <inheritdoc />
    public WireProtocol PostGroupProtocol => WireProtocol.SignalR;

    /// <inheritdoc />
    public IReadOnlyList<Uri> PostGroupUris(long postId) => [.. WebSocketUris.Select(u => new UriBuilder(u) { Query = $"post={postId}" }.Uri)];

    /// <inheritdoc />
    public Task PrepareUsersAsync(int users, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task<long> ReactAsync(long postId, int user, bool comment, CancellationToken cancellationToken) =>
        _posts.ReactAsync(postId, comment, null, cancellationToken);

    /// <summary>Peers started elsewhere.</summary>
    public static SignalRSystem Attach(Uri http, IReadOnlyList<Uri> webSockets, IReadOnlyList<int> serverPids, IReadOnlyList<int> gatewayPids) =>
        new(null, [], webSockets, serverPids, gatewayPids, new PostClient(http));

    /// <inheritdoc />
    public Task<long> CreatePostAsync(string title, CancellationToken cancellationToken) => _posts.CreateAsync(title, cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _posts.Dispose();
        if (_script is not null)
        {
            await RunAsync(_script, ["stop"], _environment, CancellationToken.None);
        }
    }

    /// <summary>Runs the script; returns its standard output, throws with its output when it fails.</summary>
    private static async Task<string> RunAsync(string script, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} {string.Join(' ', arguments)} failed ({process.ExitCode}):\n{await error}\n{await output}");
        }

        return await output;
    }

    /// <summary>A port with <paramref name="count"/> free ports from it.</summary>
    private static int FreeRange(int count)
    {
        while (true)
        {
            var first = Ports.Free();
            if (Enumerable.Range(first + 1, count - 1).All(IsFree))
            {
                return first;
            }
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
