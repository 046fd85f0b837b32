using StackExchange.Redis;

namespace BookShelf.Testing;

/// <summary>
/// The Redis of a <see cref="LocalSystem"/>: one redis-server (append-only file on), or a primary with replicas
/// watched by three Sentinels, as docs/deployment.md describes (one ACL user, <c>bookshelf</c>, on every server
/// and Sentinel; the default user off; the password only in mode-600 files and the environment). Servers can be
/// killed and started again; Sentinel promotes a replica when the primary is gone.
/// </summary>
public sealed class LocalRedis : IAsyncDisposable
{
    /// <summary>The name Sentinel monitors the primary under (the connection string's <c>serviceName</c>).</summary>
    public const string ServiceName = "bookshelf";

    private readonly string _directory;
    private readonly string _appendFsync;
    private readonly Func<string, string> _address;
    private readonly Func<string, string, string, IReadOnlyList<string>, string, ManagedProcess> _start;
    private readonly List<RedisServer> _servers = [];
    private readonly List<RedisServer> _sentinels = [];

    /// <summary>
    /// Describes the Redis; <paramref name="start"/> starts a process (name, host, file, arguments, log) on its host,
    /// <paramref name="address"/> gives a host's address. Sentinels run beside each server, and on
    /// <paramref name="spareHost"/> while there are fewer than three servers (Sentinel needs a majority of three).
    /// </summary>
    public LocalRedis(string directory, int replicas, string appendFsync, string spareHost, Func<string, string> address, Func<string, string, string, IReadOnlyList<string>, string, ManagedProcess> start, bool tls = false)
    {
        _directory = directory;
        _appendFsync = appendFsync;
        _address = address;
        _start = start;
        for (var i = 0; i <= replicas; i++)
        {
            _servers.Add(new RedisServer(i == 0 ? "redis" : $"redis-replica-{i}", Host(i), address(Host(i)), Ports.Free()));
        }

        if (replicas > 0)
        {
            for (var i = 0; i < 3; i++)
            {
                var host = i < _servers.Count ? Host(i) : spareHost;
                _sentinels.Add(new RedisServer($"sentinel-{i}", host, address(host), Ports.Free()));
            }
        }

        if (tls)
        {
            Certificates = TestCertificates.Create(Path.Combine(directory, "tls"), _servers.Concat(_sentinels).Select(s => s.Address).Distinct());
        }
    }

    /// <summary>
    /// With TLS: the authority and certificate every server and Sentinel uses (TLS only, plain TCP off, replication
    /// and Sentinel links over TLS too), as docs/deployment.md sets it up; null without.
    /// </summary>
    public TestCertificates? Certificates { get; }

    /// <summary>The lab host of Redis server <paramref name="index"/> (0: the first primary, then its replicas).</summary>
    public static string Host(int index) => index == 0 ? "redis" : $"redis-{index}";

    /// <summary>The password of the one user, <c>bookshelf</c>.</summary>
    public string Password { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>The servers: [0] was started as the primary, the others as its replicas.</summary>
    public IReadOnlyList<RedisServer> Servers => _servers;

    /// <summary>The Sentinels (none without replicas).</summary>
    public IReadOnlyList<RedisServer> Sentinels => _sentinels;

    /// <summary>
    /// How silos and gateways reach Redis: the server itself, or the Sentinels and the service name (the client
    /// asks them for the primary and follows a failover).
    /// </summary>
    public string ConnectionString => (_sentinels.Count == 0
        ? $"{_servers[0].Address}:{_servers[0].Port},user=bookshelf,password={Password}"
        : string.Join(',', _sentinels.Select(s => $"{s.Address}:{s.Port}")) + $",serviceName={ServiceName},user=bookshelf,password={Password}")
        + (Certificates is null ? "" : ",ssl=true");

    /// <summary>The config lines that make a server or Sentinel speak TLS only on <paramref name="port"/>.</summary>
    private IEnumerable<string> Listen(int port) => Certificates is not { } tls
        ? [$"port {port}"]
        : ["port 0", $"tls-port {port}", $"tls-cert-file {tls.CertificatePath}", $"tls-key-file {tls.KeyPath}", $"tls-ca-cert-file {tls.CaPath}", "tls-auth-clients no", "tls-replication yes"];

    /// <summary>Starts every server, then the Sentinels, and waits until the replicas are in sync.</summary>
    public async Task StartAsync()
    {
        foreach (var server in _servers)
        {
            await StartServerAsync(server);
        }

        foreach (var sentinel in _sentinels)
        {
            StartSentinel(sentinel);
        }

        foreach (var sentinel in _sentinels)
        {
            await WaitListeningAsync(sentinel);
        }

        if (_servers.Count > 1)
        {
            await Poll.UntilAsync(async () => await ConnectedReplicasAsync(_servers[0]) == _servers.Count - 1, TimeSpan.FromSeconds(30), "the Redis replicas to be in sync");
        }
    }

    /// <summary>Starts a server (again, after a stop or kill) with its config file and data, and waits until it listens.</summary>
    public async Task StartServerAsync(RedisServer server)
    {
        var data = Path.Combine(_directory, server.Name);
        Directory.CreateDirectory(data);
        var config = Path.Combine(_directory, server.Name + ".conf");
        if (!File.Exists(config))
        {
            List<string> lines =
            [
                $"bind {server.Address}", .. Listen(server.Port), $"dir {data}", "appendonly yes", $"appendfsync {_appendFsync}", "save \"\"", "protected-mode yes",
                $"user bookshelf on >{Password} ~* &* +@all", "user default off",
                // A primary can become a replica after a failover: every server knows how to sync from another.
                "masteruser bookshelf", $"masterauth {Password}",
            ];
            if (server != _servers[0])
            {
                lines.Add($"replicaof {_servers[0].Address} {_servers[0].Port}");
            }

            WritePrivate(config, lines);
        }

        // Started again after a failover, the file still says what it was; Sentinel tells it what it is now.
        server.Process = _start(server.Name, server.Host, "redis-server", [config], Path.Combine(_directory, server.Name + ".log"));
        await WaitListeningAsync(server);
    }

    /// <summary>Stops a server with SIGTERM (it finishes its append-only file) and waits for it to exit.</summary>
    public Task StopServerAsync(RedisServer server) => server.Process!.StopAsync(TimeSpan.FromSeconds(10));

    /// <summary>The server most Sentinels name as the primary now (one cut off from the others may still name the old one).</summary>
    public async Task<RedisServer> PrimaryAsync() => await TryPrimaryAsync()
        ?? throw new InvalidOperationException("no majority of the Sentinels names one primary");

    /// <summary>As <see cref="PrimaryAsync"/>, or null while no majority of the Sentinels names the same server.</summary>
    public async Task<RedisServer?> TryPrimaryAsync()
    {
        if (_sentinels.Count == 0)
        {
            return _servers[0];
        }

        var answers = new List<RedisServer>();
        foreach (var sentinel in _sentinels.Where(s => s.Process?.IsRunning == true))
        {
            try
            {
                await using var connection = await ConnectAsync(sentinel, sentinel: true);
                var reply = await connection.GetServer(sentinel.Address, sentinel.Port).ExecuteAsync("SENTINEL", "get-master-addr-by-name", ServiceName);
                var parts = (string[])reply!;
                var port = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                answers.Add(_servers.Single(s => s.Address == parts[0] && s.Port == port));
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
            }
        }

        return answers.GroupBy(a => a).Where(g => g.Count() * 2 > _sentinels.Count).Select(g => g.Key).FirstOrDefault();
    }

    /// <summary>The server's role as it says itself (<c>master</c> or <c>slave</c>), or null when it does not answer.</summary>
    public async Task<string?> RoleAsync(RedisServer server)
    {
        try
        {
            await using var connection = await ConnectAsync(server, sentinel: false);
            var role = await connection.GetServer(server.Address, server.Port).ExecuteAsync("ROLE");
            return ((RedisResult[])role!)[0].ToString();
        }
        catch (RedisException)
        {
            return null;
        }
    }

    /// <summary>Which of <paramref name="keys"/> the primary (as the Sentinels name it now) does not hold.</summary>
    public async Task<IReadOnlyList<string>> AbsentAsync(IReadOnlyList<string> keys)
    {
        var primary = await PrimaryAsync();
        await using var connection = await ConnectAsync(primary, sentinel: false);
        var db = connection.GetDatabase();
        var absent = new List<string>();
        foreach (var key in keys)
        {
            if (!await db.KeyExistsAsync(key))
            {
                absent.Add(key);
            }
        }

        return absent;
    }

    /// <summary>What a Sentinel knows of the primary (<c>SENTINEL MASTER</c>: flags, replicas, other Sentinels), field by field.</summary>
    public async Task<IReadOnlyDictionary<string, string>> SentinelViewAsync(RedisServer sentinel)
    {
        await using var connection = await ConnectAsync(sentinel, sentinel: true);
        var reply = (string[])(await connection.GetServer(sentinel.Address, sentinel.Port).ExecuteAsync("SENTINEL", "MASTER", ServiceName))!;
        return Enumerable.Range(0, reply.Length / 2).ToDictionary(i => reply[2 * i], i => reply[(2 * i) + 1]);
    }

    /// <summary>How many replicas <paramref name="server"/> reports online (0 when it cannot be asked).</summary>
    public async Task<int> ConnectedReplicasAsync(RedisServer server)
    {
        try
        {
            await using var connection = await ConnectAsync(server, sentinel: false);
            var info = await connection.GetServer(server.Address, server.Port).InfoAsync("replication");
            var replicas = info.SelectMany(g => g).Where(p => p.Key.StartsWith("slave", StringComparison.Ordinal) && p.Key[5..].All(char.IsAsciiDigit));
            return replicas.Count(p => p.Value.Contains("state=online", StringComparison.Ordinal));
        }
        catch (RedisException)
        {
            return 0;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var process in _sentinels.Concat(_servers).Select(s => s.Process).OfType<ManagedProcess>())
        {
            await process.DisposeAsync();
        }
    }

    private void StartSentinel(RedisServer sentinel)
    {
        var data = Path.Combine(_directory, sentinel.Name);
        Directory.CreateDirectory(data);
        var config = Path.Combine(_directory, sentinel.Name + ".conf");
        var primary = _servers[0];
        // Sentinel rewrites this file as it learns; it must stay writable by this user.
        WritePrivate(config,
        [
            $"bind {sentinel.Address}", .. Listen(sentinel.Port), $"dir {data}", "protected-mode yes",
            $"user bookshelf on >{Password} ~* &* +@all", "user default off",
            $"sentinel monitor {ServiceName} {primary.Address} {primary.Port} 2",
            $"sentinel auth-user {ServiceName} bookshelf", $"sentinel auth-pass {ServiceName} {Password}",
            "sentinel sentinel-user bookshelf", $"sentinel sentinel-pass {Password}",
            $"sentinel down-after-milliseconds {ServiceName} 2000",
            $"sentinel failover-timeout {ServiceName} 4000",
            $"sentinel parallel-syncs {ServiceName} 1",
        ]);
        sentinel.Process = _start(sentinel.Name, sentinel.Host, "redis-sentinel", [config], Path.Combine(_directory, sentinel.Name + ".log"));
    }

    private Task WaitListeningAsync(RedisServer server) =>
        Poll.UntilAsync(async () =>
        {
            if (server.Process is { IsRunning: false } process)
            {
                throw new InvalidOperationException($"{server.Name} exited:\n{process.Tail()}");
            }

            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync(server.Address, server.Port);
            return true;
        }, TimeSpan.FromSeconds(10), $"{server.Name} on {server.Address}:{server.Port}");

    private Task<ConnectionMultiplexer> ConnectAsync(RedisServer server, bool sentinel)
    {
        var options = new ConfigurationOptions
        {
            EndPoints = { { server.Address, server.Port } },
            User = "bookshelf",
            Password = Password,
            AllowAdmin = true,
            ConnectTimeout = 2000,
            AbortOnConnectFail = true,
        };
        if (Certificates is { } tls)
        {
            options.Ssl = true;
            options.TrustIssuer(tls.CaPath);
        }

        if (sentinel)
        {
            options.CommandMap = CommandMap.Sentinel;
        }

        return ConnectionMultiplexer.ConnectAsync(options);
    }

    private static void WritePrivate(string path, IEnumerable<string> lines)
    {
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}

/// <summary>A redis-server or redis-sentinel of a <see cref="LocalRedis"/>.</summary>
public sealed class RedisServer(string name, string host, string address, int port)
{
    /// <summary>A name for logs and files.</summary>
    public string Name { get; } = name;

    /// <summary>Its lab host.</summary>
    public string Host { get; } = host;

    /// <summary>Its address.</summary>
    public string Address { get; } = address;

    /// <summary>Its port.</summary>
    public int Port { get; } = port;

    /// <summary>The process (replaced on restart; null before the first start).</summary>
    public ManagedProcess? Process { get; set; }
}
