using System.Reflection;
using BookShelf.Testing.Lab;

namespace BookShelf.Testing;

/// <summary>
/// The real system on loopback, as separate processes: a redis-server (append-only file on), silos and gateways
/// built from this repository, each on free ports. Processes can be killed (SIGKILL), stopped (SIGTERM) and
/// started again. Everything it started is ended on dispose.
/// </summary>
public sealed class LocalSystem : IAsyncDisposable
{
    private readonly List<SiloNode> _silos = [];
    private readonly List<DelayProxy> _siloLinks = [];
    private readonly List<DelayProxy> _gatewayLinks = [];
    private readonly List<GatewayNode> _gateways = [];
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private LocalSystem(string directory, LocalSystemOptions options)
    {
        Directory = directory;
        Options = options;
        RedisServers = new LocalRedis(directory, options.RedisReplicas, options.RedisAppendFsync, SiloHost(0), HostAddress,
            (name, host, file, arguments, log) => Start(name, host, file, arguments, log), options.RedisTls);
    }

    /// <summary>Where logs and Redis data go.</summary>
    public string Directory { get; }

    /// <summary>Redis: one server, or a primary with replicas and Sentinels (<see cref="LocalSystemOptions.RedisReplicas"/>).</summary>
    public LocalRedis RedisServers { get; }

    /// <summary>The port of the first Redis server (the primary until a failover).</summary>
    public int RedisPort => RedisServers.Servers[0].Port;

    /// <summary>The password of Redis's one user (<c>bookshelf</c>), made for this system; the default user is off.</summary>
    public string RedisPassword => RedisServers.Password;

    /// <summary>How silos and gateways reach Redis (given to them in the environment, never on a command line).</summary>
    public string RedisConnection => RedisServers.ConnectionString;

    /// <summary>The lab host Redis runs on (see <see cref="LocalSystemOptions.Lab"/>).</summary>
    public const string RedisHost = "redis";

    /// <summary>The lab host of silo <paramref name="index"/>.</summary>
    public static string SiloHost(int index) => $"silo-{index}";

    /// <summary>The lab host of gateway <paramref name="index"/>.</summary>
    public static string GatewayHost(int index) => $"gateway-{index}";

    /// <summary>A host's address: in the lab its own, otherwise loopback.</summary>
    public string HostAddress(string host) => Options.Lab?.Address(host) ?? "127.0.0.1";

    /// <summary>How the system was configured.</summary>
    public LocalSystemOptions Options { get; }

    /// <summary>The first Redis server's process (the primary until a failover).</summary>
    public ManagedProcess Redis => RedisServers.Servers[0].Process!;

    /// <summary>Silos started so far (dead ones included).</summary>
    public IReadOnlyList<SiloNode> Silos => _silos;

    /// <summary>With <see cref="LocalSystemOptions.SiloLinkDelay"/>: the proxy in front of each silo's silo port, by silo.</summary>
    public IReadOnlyList<DelayProxy> SiloLinks => _siloLinks;

    /// <summary>The silo's program, as this system runs it: the build's precompiled publish (<see cref="ProgramDll"/>).</summary>
    public static string SiloDll => ProgramDll("Silo", "BookShelf.Silo.dll");

    /// <summary>The gateway's program, as this system runs it: the build's precompiled publish (<see cref="ProgramDll"/>).</summary>
    public static string GatewayDll => ProgramDll("Gateway", "BookShelf.Gateway.dll");

    /// <summary>The cluster's (and service's) id, as every process of this system is given it.</summary>
    public string ClusterId => _clusterId;

    /// <summary>Gateways started so far (dead ones included).</summary>
    public IReadOnlyList<GatewayNode> Gateways => _gateways;

    /// <summary>The repository root (where BookShelf.Orleans.sln is).</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>
    /// Where the silo and gateway builds are taken from: this repository, or the checkout named by
    /// <c>BOOKSHELF_SYSTEM_ROOT</c> (to measure another build, e.g. an earlier commit, with these tools).
    /// </summary>
    public static string SystemRoot { get; } = Environment.GetEnvironmentVariable("BOOKSHELF_SYSTEM_ROOT") is { Length: > 0 } root ? root : RepositoryRoot;

    /// <summary>
    /// A program of <see cref="SystemRoot"/>: its build's precompiled publish, <c>bin/&lt;configuration&gt;/ready/</c>
    /// (ReadyToRun.props). A publish older than the plain build output is stale (a build with
    /// <c>-p:PublishReadyToRunOnBuild=false</c>, or another commit checked out and built): in this repository that is an
    /// error; in another checkout (<c>BOOKSHELF_SYSTEM_ROOT</c>, e.g. an earlier commit that did not publish) the plain
    /// build output runs.
    /// </summary>
    private static string ProgramDll(string project, string dll)
    {
        var ready = Path.Combine(SystemRoot, project, "bin", Configuration, "ready", dll);
        var plain = Path.Combine(SystemRoot, project, "bin", Configuration, "net10.0", dll);
        var readyIsCurrent = File.Exists(ready) && (!File.Exists(plain) || NewestOwnAssembly(ready) >= NewestOwnAssembly(plain));
        if (readyIsCurrent || !File.Exists(plain))
        {
            return ready;
        }

        return SystemRoot != RepositoryRoot
            ? plain
            : throw new InvalidOperationException($"{ready} is missing or older than {plain}: build the solution with its precompiled publish (dotnet build, without -p:PublishReadyToRunOnBuild=false).");
    }

    /// <summary>When the newest of the solution's own assemblies beside <paramref name="dll"/> was written.</summary>
    private static DateTime NewestOwnAssembly(string dll) =>
        System.IO.Directory.GetFiles(Path.GetDirectoryName(dll)!, "BookShelf.*.dll").Max(File.GetLastWriteTimeUtc);

    /// <summary>Starts Redis, the silos and the gateways, and waits until every one is ready.</summary>
    public static async Task<LocalSystem> StartAsync(LocalSystemOptions options)
    {
        var directory = Path.Combine(RepositoryRoot, ".data", options.Folder, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}");
        System.IO.Directory.CreateDirectory(directory);
        var system = new LocalSystem(directory, options);
        try
        {
            await system.RedisServers.StartAsync();
            if (options.RedisReplicas > 0)
            {
                // One at a time: a silo connecting through Sentinel blocks threads while it starts, and two starting
                // together on 2 cores missed each other's first probes (1 s each) and voted one dead.
                for (var i = 0; i < options.Silos; i++)
                {
                    await system.StartSiloAsync();
                }
            }
            else
            {
                for (var i = 0; i < options.Silos; i++)
                {
                    system.StartSilo();
                }

                foreach (var silo in system._silos)
                {
                    await system.WaitReadyAsync(silo.Process, silo.HttpPort, silo.Host);
                }
            }

            for (var i = 0; i < options.Gateways; i++)
            {
                await system.StartGatewayAsync();
            }
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }

        return system;
    }

    /// <summary>Starts the first redis-server again after a stop, with its config and data (append-only file).</summary>
    public Task StartRedisAsync() => RedisServers.StartServerAsync(RedisServers.Servers[0]);

    /// <summary>Stops redis-server (SIGTERM: it finishes its append-only file) and waits for it to exit.</summary>
    public Task StopRedisAsync() => RedisServers.StopServerAsync(RedisServers.Servers[0]);

    /// <summary>Starts one more silo and waits until it is ready.</summary>
    public async Task<SiloNode> StartSiloAsync()
    {
        var silo = StartSilo();
        await WaitReadyAsync(silo.Process, silo.HttpPort, silo.Host);
        return silo;
    }

    /// <summary>Starts one more silo (not waiting for it).</summary>
    public SiloNode StartSilo()
    {
        var index = _silos.Count;
        var httpPort = Ports.Free();
        var siloPort = Ports.Free();
        var gatewayPort = Ports.Free();
        var host = HostAddress(SiloHost(index));
        var args = new List<string>
        {
            SiloDll,
            "--urls", $"http://{host}:{httpPort}",
            "--Orleans:ClusterId", _clusterId, "--Orleans:ServiceId", _clusterId,
        };
        if (Options.SiloLinkDelay is { } delay && Options.Lab is { } lab)
        {
            // The others reach this silo through proxies on the test's own lab address: silos through one that holds
            // every byte for the delay, gateways through one that does not.
            var siloLink = DelayProxy.Start(lab.TestAddress, host, siloPort, delay);
            var gatewayLink = DelayProxy.Start(lab.TestAddress, host, gatewayPort, TimeSpan.Zero);
            _siloLinks.Add(siloLink);
            _gatewayLinks.Add(gatewayLink);
            args.AddRange([
                "--Silo:AdvertisedIP", lab.TestAddress, "--Silo:SiloPort", siloLink.Port.ToString(), "--Silo:GatewayPort", gatewayLink.Port.ToString(),
                "--Silo:ListenIP", host, "--Silo:ListenSiloPort", siloPort.ToString(), "--Silo:ListenGatewayPort", gatewayPort.ToString(),
            ]);
        }
        else
        {
            args.AddRange(["--Silo:AdvertisedIP", host, "--Silo:SiloPort", siloPort.ToString(), "--Silo:GatewayPort", gatewayPort.ToString()]);
        }

        args.AddRange([
            "--Silo:ProbeTimeout", "00:00:01",
            "--Logging:LogLevel:Default", "Warning",
        ]);
        args.AddRange(Options.SiloArguments);
        var node = new SiloNode(index, httpPort, Start($"silo-{index}", SiloHost(index), "dotnet", args, Path.Combine(Directory, $"silo-{index}.log"), RedisEnvironment("Silo"))) { Host = host };
        _silos.Add(node);
        return node;
    }

    /// <summary>Starts one more gateway and waits until it is ready.</summary>
    public async Task<GatewayNode> StartGatewayAsync(int? port = null, IReadOnlyList<string>? extraArguments = null)
    {
        var index = _gateways.Count;
        var httpPort = port ?? Ports.Free();
        var node = new GatewayNode(index, httpPort, StartGatewayProcess(index, httpPort, extraArguments)) { Host = HostAddress(GatewayHost(index)) };
        _gateways.Add(node);
        await WaitReadyAsync(node.Process, httpPort, node.Host);
        return node;
    }

    /// <summary>Starts a gateway process again on the same port (after a kill) and waits until it is ready.</summary>
    public async Task RestartGatewayAsync(GatewayNode node, IReadOnlyList<string>? extraArguments = null)
    {
        node.Process = StartGatewayProcess(node.Index, node.HttpPort, extraArguments);
        await WaitReadyAsync(node.Process, node.HttpPort, node.Host);
    }

    /// <summary>Waits until a process answers <c>/readyz</c>.</summary>
    public Task WaitReadyAsync(ManagedProcess process, int httpPort, string host = "127.0.0.1") =>
        Poll.UntilAsync(async () =>
        {
            if (!process.IsRunning)
            {
                throw new InvalidOperationException($"{process.Name} exited before it was ready:\n{process.Tail()}");
            }

            using var response = await _http.GetAsync(new Uri($"http://{host}:{httpPort}/readyz"));
            return response.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(90), $"{process.Name} to answer /readyz");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var gateway in _gateways)
        {
            await gateway.Process.DisposeAsync();
        }

        foreach (var silo in _silos)
        {
            await silo.Process.DisposeAsync();
        }

        foreach (var link in _siloLinks.Concat(_gatewayLinks))
        {
            await link.DisposeAsync();
        }

        await RedisServers.DisposeAsync();

        _http.Dispose();
    }

    private ManagedProcess StartGatewayProcess(int index, int httpPort, IReadOnlyList<string>? extraArguments = null)
    {
        var args = new List<string>
        {
            GatewayDll,
            "--urls", $"http://{HostAddress(GatewayHost(index))}:{httpPort}",
            "--contentRoot", Path.Combine(SystemRoot, "Gateway"),
            "--Orleans:ClusterId", _clusterId, "--Orleans:ServiceId", _clusterId,
            "--Logging:LogLevel:Default", "Warning",
        };
        args.AddRange(Options.GatewayArguments);
        args.AddRange(extraArguments ?? []);
        return Start($"gateway-{index}", GatewayHost(index), "dotnet", args, Path.Combine(Directory, $"gateway-{index}-{DateTime.UtcNow:HHmmssfff}.log"), RedisEnvironment("Gateway"));
    }

    /// <summary>How a silo's or gateway's <paramref name="section"/> is told where Redis is (and, with TLS, whom to trust).</summary>
    private Dictionary<string, string> RedisEnvironment(string section)
    {
        var environment = new Dictionary<string, string> { [$"{section}__Redis"] = RedisConnection };
        if (RedisServers.Certificates is { } tls)
        {
            environment[$"{section}__RedisCaCertificatePath"] = tls.CaPath;
        }

        return environment;
    }

    /// <summary>
    /// Starts a process on its host (inside the host's namespace in the lab, here otherwise), in the system's folder,
    /// where Redis and the logs write, as an operator might start it from a data folder.
    /// </summary>
    private ManagedProcess Start(string name, string host, string fileName, IReadOnlyList<string> arguments, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (Options.Lab is { } lab)
        {
            var (file, args) = lab.Inside(host, fileName, arguments);
            return ManagedProcess.Start(name, file, args, logPath, environment, Directory);
        }

        return ManagedProcess.Start(name, fileName, arguments, logPath, environment, Directory);
    }

    private static string Configuration =>
        typeof(LocalSystem).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "BookShelf.Orleans.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("BookShelf.Orleans.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>How many processes a <see cref="LocalSystem"/> starts, and extra configuration for them.</summary>
public sealed record LocalSystemOptions
{
    /// <summary>The folder under <c>.data/</c> for logs and Redis data.</summary>
    public string Folder { get; init; } = "tests";

    /// <summary>Silos to start.</summary>
    public int Silos { get; init; } = 1;

    /// <summary>Gateways to start.</summary>
    public int Gateways { get; init; } = 1;

    /// <summary>Extra command-line configuration for every silo, e.g. <c>--Feed:MaxReplay 20</c>.</summary>
    public IReadOnlyList<string> SiloArguments { get; init; } = [];

    /// <summary>
    /// Redis <c>appendfsync</c>: <c>always</c> (tests: a Redis kill loses nothing) or <c>everysec</c> (what
    /// <c>./bookshelf up</c> runs, and what the benchmark measures).
    /// </summary>
    public string RedisAppendFsync { get; init; } = "always";

    /// <summary>Redis (servers and Sentinels) speaks TLS only, with a certificate authority made for the run; silos and gateways are given it.</summary>
    public bool RedisTls { get; init; }

    /// <summary>
    /// Runs every process on a host of its own in this network lab (hosts named <c>redis</c>, <c>silo-N</c>,
    /// <c>gateway-N</c>: see <see cref="LocalSystem.SiloHost"/>), instead of all on loopback.
    /// </summary>
    public NetworkLab? Lab { get; init; }

    /// <summary>
    /// With <see cref="Lab"/>: silos reach each other through a <see cref="DelayProxy"/> each (on the test's lab
    /// address) that holds every byte this long each way; <see cref="LocalSystem.SiloLinks"/> changes it later.
    /// Their traffic then passes the test's address, so <see cref="NetworkLab.Cut"/> between silos (or between
    /// gateways and silos) no longer separates them: do not combine the two.
    /// </summary>
    public TimeSpan? SiloLinkDelay { get; init; }

    /// <summary>
    /// Redis replicas beside the primary: with any, three Sentinels watch them and silos and gateways connect
    /// through the Sentinels (hosts <c>redis</c>, <c>redis-1</c>, ...: see <see cref="LocalRedis.Host"/>; with one
    /// replica the third Sentinel runs on <c>silo-0</c>).
    /// </summary>
    public int RedisReplicas { get; init; }

    /// <summary>Extra command-line configuration for every gateway.</summary>
    public IReadOnlyList<string> GatewayArguments { get; init; } = [];

    /// <summary>
    /// Gateway arguments for a load that posts as one user from one address: both write limits raised. The per-address
    /// one (600 a minute by default, refused attempts counted too) locks such a load out, for as long as it keeps
    /// posting, once it has run about 30 s at 20 a second.
    /// </summary>
    public static IReadOnlyList<string> RaisedWriteLimits { get; } = ["--Gateway:WritePermitLimit", "1000000", "--Gateway:WritePermitLimitPerAddress", "1000000"];
}

/// <summary>A silo process of a <see cref="LocalSystem"/>.</summary>
public sealed class SiloNode(int index, int httpPort, ManagedProcess process)
{
    /// <summary>Its position in <see cref="LocalSystem.Silos"/>.</summary>
    public int Index { get; } = index;

    /// <summary>Its health endpoint's port.</summary>
    public int HttpPort { get; } = httpPort;

    /// <summary>Its address (loopback, or its lab host's).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The process.</summary>
    public ManagedProcess Process { get; set; } = process;
}

/// <summary>A gateway process of a <see cref="LocalSystem"/>.</summary>
public sealed class GatewayNode(int index, int httpPort, ManagedProcess process)
{
    /// <summary>Its position in <see cref="LocalSystem.Gateways"/>.</summary>
    public int Index { get; } = index;

    /// <summary>Its HTTP port.</summary>
    public int HttpPort { get; } = httpPort;

    /// <summary>Its address (loopback, or its lab host's).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Its base address.</summary>
    public Uri BaseAddress => new($"http://{Host}:{HttpPort}/");

    /// <summary>Its WebSocket endpoint.</summary>
    public Uri WebSocketUri(string query = "") => new($"ws://{Host}:{HttpPort}/ws/update_notice/{query}");

    /// <summary>The process (replaced on restart).</summary>
    public ManagedProcess Process { get; set; } = process;
}
