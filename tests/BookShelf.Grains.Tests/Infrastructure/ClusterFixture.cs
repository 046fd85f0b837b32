using System.Collections.Concurrent;
using BookShelf.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;

namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>
/// An in-process cluster of three silos with the production grains, the production stream registration and
/// shared in-memory storage under the production storage names. Failure detection is tuned to about a second.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, (byte[] Data, string ETag)> _store = new();
    private readonly ConcurrentDictionary<string, int> _writes = new();
    private readonly ConcurrentDictionary<string, Func<Func<Task>, Task>> _interceptors = new();
    private readonly SharedOutboxJournal _journal = new(TimeProvider.System);
    private readonly List<GatewayFeed> _gateways = [];

    /// <summary>Silos started with the cluster.</summary>
    protected virtual int SiloCount => 3;

    /// <summary>Replay limit of the feeds in this cluster.</summary>
    public virtual int MaxReplay => 100;

    /// <summary>Most comments a post takes in this cluster.</summary>
    public int MaxCommentsPerPost => 130;

    /// <summary>Lease duration of gateway subscriptions in this cluster.</summary>
    public TimeSpan LeaseDuration { get; } = TimeSpan.FromSeconds(3);

    /// <summary>How long gateways may accept a checked session in this cluster.</summary>
    public TimeSpan SessionLease { get; } = TimeSpan.FromSeconds(2);

    /// <summary>The cluster.</summary>
    public InProcessTestCluster Cluster { get; private set; } = null!;

    /// <summary>Grain state of every silo, serialized, by <c>{state name}|{grain id}</c>.</summary>
    public ConcurrentDictionary<string, (byte[] Data, string ETag)> Store => _store;

    /// <summary>How many times a grain's state was written so far.</summary>
    public int Writes(string stateName, Orleans.Runtime.GrainId grainId) => _writes.TryGetValue(SharedMemoryGrainStorage.Key(stateName, grainId), out var n) ? n : 0;

    /// <summary>
    /// Runs the next write of <paramref name="stateName"/> for <paramref name="grainId"/> through <paramref name="intercept"/>
    /// (given the write itself): to hold it, or to lose its answer after it is stored. Only that one write.
    /// </summary>
    public void InterceptNextWrite(string stateName, Orleans.Runtime.GrainId grainId, Func<Func<Task>, Task> intercept) =>
        Assert.True(_interceptors.TryAdd(SharedMemoryGrainStorage.Key(stateName, grainId), intercept), "a write of that grain is already intercepted");

    /// <summary>Holds the next write of <paramref name="stateName"/> for <paramref name="grainId"/> until <see cref="HeldWrite.Release"/>.</summary>
    public HeldWrite HoldNextWrite(string stateName, Orleans.Runtime.GrainId grainId)
    {
        var held = new HeldWrite();
        InterceptNextWrite(stateName, grainId, held.HoldAsync);
        return held;
    }

    /// <summary>Fails the next write of <paramref name="stateName"/> for <paramref name="grainId"/> (nothing stored); the task completes when it has.</summary>
    public Task FailNextWrite(string stateName, Orleans.Runtime.GrainId grainId)
    {
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        InterceptNextWrite(stateName, grainId, _ =>
        {
            failed.TrySetResult();
            return Task.FromException(new InvalidOperationException("storage is down"));
        });
        return failed.Task;
    }

    /// <summary>A feed's head as its last write stored it.</summary>
    public Feed.FeedState StoredHead(IUpdaterGrain updater)
    {
        var serializer = Cluster.Client.ServiceProvider.GetRequiredService<Serializer>();
        return serializer.Deserialize<Feed.FeedState>(Store[$"feed|{updater.GetGrainId()}"].Data)
            ?? throw new InvalidOperationException($"Feed {updater.GetPrimaryKeyString()} is not stored.");
    }

    /// <summary>The outbox journal every silo shares.</summary>
    public SharedOutboxJournal Journal => _journal;

    /// <summary>How long an outbox event waits before a silo's sweep takes it up, plus the sweep interval.</summary>
    public TimeSpan SweepBound { get; } = TimeSpan.FromSeconds(2);

    /// <summary>Post <paramref name="id"/> as its last write stored it.</summary>
    public Posts.PostState StoredPost(long id)
    {
        var grainId = ((IAddressable)Grains.GetGrain<IPostGrain>(id)).GetGrainId();
        var serializer = Cluster.Client.ServiceProvider.GetRequiredService<Serializer>();
        return serializer.Deserialize<Posts.PostState>(Store[SharedMemoryGrainStorage.Key(Posts.PostGrain.StateName, grainId)].Data)
            ?? throw new InvalidOperationException($"Post {id} is not stored.");
    }

    /// <summary>The test client's grain factory.</summary>
    public IGrainFactory Grains => Cluster.Client;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder((short)SiloCount);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddBookShelfGrains();
            foreach (var name in StorageNames.All)
            {
                silo.Services.AddKeyedSingleton<IGrainStorage>(name, (sp, _) => new SharedMemoryGrainStorage(_store, sp.GetRequiredService<Serializer>(), _writes, _interceptors));
            }

            silo.Services.AddSingleton<Posts.IOutboxJournal>(_journal);
            silo.Services.Configure<FeedOptions>(o =>
            {
                o.MaxReplay = MaxReplay;
                o.LeaseDuration = LeaseDuration;
                o.PageSize = 16;
                o.OutboxRetryInterval = TimeSpan.FromMilliseconds(500);
                o.OutboxSweepGrace = TimeSpan.FromSeconds(1);
                o.OutboxSweepInterval = TimeSpan.FromSeconds(1);
                o.MaxCommentsPerPost = MaxCommentsPerPost;
            });
            silo.Services.Configure<AccountsOptions>(o => o.SessionLease = SessionLease);
            silo.Services.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
            });
            silo.Services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
            ConfigureSilo(silo);
        });
        builder.ConfigureClient(client =>
        {
            client.Services.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
            // The client may publish on the post-event stream like a post does; it maps streams to the same queues.
            client.AddMemoryStreams(StorageNames.StreamProvider, stream =>
            {
                stream.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly);
                stream.ConfigurePartitioning(new FeedOptions().StreamQueues);
            });
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    /// <summary>What a derived cluster changes in every silo, after the shared settings.</summary>
    protected virtual void ConfigureSilo(ISiloBuilder silo)
    {
    }

    /// <summary>A simulated gateway node: its own observer, renewing every <paramref name="renewEvery"/> (default 500 ms).</summary>
    public GatewayFeed StartGateway(TimeSpan? renewEvery = null)
    {
        var options = Options.Create(new GatewayFeedOptions { RenewInterval = renewEvery ?? TimeSpan.FromMilliseconds(500), ReadBatch = 64 });
        var gateway = new GatewayFeed(Grains, options, TimeProvider.System, NullLogger<GatewayFeed>.Instance);
        gateway.Start();
        lock (_gateways)
        {
            _gateways.Add(gateway);
        }

        return gateway;
    }

    /// <summary>
    /// Collects <paramref name="grain"/>'s activation (with every other idle one) and waits until no silo holds it. Asks
    /// each silo's catalog, not the directory: a directory lookup is cached on the silo that makes it, and one made
    /// while the activation was still going stays there. Collects again until it is gone: a collection asked for
    /// while the activation is still finishing the call just answered passes it over.
    /// </summary>
    public async Task DeactivateAsync(IAddressable grain, CancellationToken cancellationToken)
    {
        var management = Grains.GetGrain<IManagementGrain>(0);
        var id = grain.GetGrainId();
        await Poll.UntilAsync(
            async () =>
            {
                await management.ForceActivationCollection(TimeSpan.FromMilliseconds(1), cancellationToken);
                return !(await management.GetActiveGrains(id.Type)).Contains(id);
            },
            TimeSpan.FromSeconds(30),
            $"{id} to be deactivated",
            TimeSpan.FromMilliseconds(250),
            cancellationToken);
    }

    /// <summary>Creates a post with a fresh id, as the gateway does (through a silo's <see cref="IPostCreatorGrain"/>).</summary>
    public async Task<PostDetails> CreatePostAsync(string title, string author = "alice")
    {
        var id = await NewPostIdAsync();
        return await Grains.PostCreator().CreateAsync(id, new PostDraft(author, title, $"Body of {title}"));
    }

    /// <summary>A fresh post id from the cluster's id sequence.</summary>
    public Task<long> NewPostIdAsync() => Grains.GetGrain<IIdBlockGrain>(IdBlockKeys.Posts).ReserveAsync(1);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var gateway in _gateways)
        {
            await gateway.DisposeAsync();
        }

        await Cluster.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
