using System.Net;
using BookShelf.Grains;
using BookShelf.Grains.Hosting;
using BookShelf.Grains.Posts;
using BookShelf.ServiceDefaults;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;

namespace BookShelf.Silo.Extensions;

/// <summary>How a production silo is assembled: Redis membership, Redis grain state, the BookShelf grains.</summary>
public static class SiloHostingExtensions
{
    /// <summary>Adds the Orleans silo configured from the <c>Orleans</c> and <c>Silo</c> sections.</summary>
    public static WebApplicationBuilder AddBookShelfSilo(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SiloOptions>()
            .BindConfiguration(SiloOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => IPAddress.TryParse(o.AdvertisedIP, out var ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any), "Silo:AdvertisedIP must be a routable IP address, not 0.0.0.0.")
            .Validate(o => o.ListenIP.Length == 0 || IPAddress.TryParse(o.ListenIP, out _), "Silo:ListenIP must be an IP address (or empty: listen on Silo:AdvertisedIP).")
            .Validate(o => o.ListenIP.Length > 0 || (o.ListenSiloPort == 0 && o.ListenGatewayPort == 0), "Silo:ListenSiloPort and Silo:ListenGatewayPort need Silo:ListenIP.")
            .ValidateOnStart();
        var silo = builder.Configuration.GetSection(SiloOptions.Section).Get<SiloOptions>() ?? new SiloOptions();
        var redis = RedisConnection.Options(silo, SiloOptions.Section);
        RedisConnection.ReservePoolThreads();
        // Redis replies are read on the .NET thread pool rather than on the client's own pool of dedicated threads:
        // one thread hand-off fewer per storage call (context switches per post, measured: about 190 -> 110-140).
        redis.SocketManager = SocketManager.ThreadPool;

        var serviceId = builder.Configuration["Orleans:ServiceId"] ?? "bookshelf";
        // With Silo:RedisReplicasToAck, grain state, the journal and the replica WAITs share one connection, so a
        // WAIT follows the very server the reads and writes went to. Otherwise the journal has a connection of its
        // own and each storage provider its own. Made here, before the silo starts: through Sentinel a connect
        // blocks its thread for a while, and made on first use it blocked pool threads the silo needed to answer
        // the others' probes (a joining silo was voted dead on 2 cores). AbortOnConnectFail is off: a Redis that
        // is down is connected to in the background.
        var shared = silo.RedisReplicasToAck > 0 ? ConnectionMultiplexer.Connect(redis.Clone()) : null;
        var journalRedis = shared ?? ConnectionMultiplexer.Connect(redis.Clone());
        builder.Services.AddSingleton<IOutboxJournal>(sp => new RedisOutboxJournal(journalRedis, serviceId, sp.GetRequiredService<TimeProvider>()));

        builder.UseOrleans(orleans =>
        {
            orleans.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = builder.Configuration["Orleans:ClusterId"] ?? "bookshelf";
                o.ServiceId = serviceId;
            });
            orleans.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
            foreach (var name in StorageNames.All)
            {
                // State is stored in Orleans' binary format: a feed head is written on every event, and the
                // default JSON serializer made that the silo's biggest cost per post.
                orleans.AddRedisGrainStorage(name, o => o.Configure<Serializer>((options, serializer) =>
                {
                    options.ConfigurationOptions = redis.Clone();
                    options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
                    if (shared is not null)
                    {
                        options.CreateMultiplexer = _ => Task.FromResult<(IConnectionMultiplexer, bool)>((shared, true));
                    }
                }));
            }

            if (shared is not null)
            {
                orleans.Services.AddSingleton(_ => new ReplicaWait(shared, $"{serviceId}:replica-ack", silo.RedisReplicasToAck, silo.RedisReplicaAckTimeout));
                foreach (var name in StorageNames.All)
                {
                    DecorateStorage(orleans.Services, name);
                }
            }

            if (IPAddress.TryParse(silo.AdvertisedIP, out var ip))
            {
                orleans.ConfigureEndpoints(ip, silo.SiloPort, silo.GatewayPort, listenOnAnyHostAddress: false);
            }

            if (IPAddress.TryParse(silo.ListenIP, out var address))
            {
                // Behind NAT or a proxy: listen here, advertise AdvertisedIP:SiloPort and :GatewayPort to the others.
                orleans.Configure<EndpointOptions>(o =>
                {
                    o.SiloListeningEndpoint = new IPEndPoint(address, silo.ListenSiloPort is > 0 and var sp ? sp : silo.SiloPort);
                    o.GatewayListeningEndpoint = new IPEndPoint(address, silo.ListenGatewayPort is > 0 and var gp ? gp : silo.GatewayPort);
                });
            }

            orleans.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = silo.ProbeTimeout;
                o.NumMissedProbesLimit = 2;
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
                // A silo the others voted dead while they could not reach it also gets no word from them: it learns
                // it from the membership table, which it read only every 60 s by default (the lab measured a silo cut
                // from the others serving on 38 s after they voted, 48 s after the cut; the test allows 60 s).
                o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
            });
            orleans.AddBookShelfGrains();
            if (BookShelf.ServiceDefaults.ServiceDefaultsExtensions.TracingEnabled(builder.Configuration))
            {
                orleans.AddActivityPropagation();
            }

            if (silo.Dashboard)
            {
                // Grain and silo statistics for operators; served on this silo's HTTP port at /dashboard.
                orleans.AddDashboard();
            }
        });
        return builder;
    }

    /// <summary>Wraps the storage registered as <paramref name="name"/> in a <see cref="ReplicaAcknowledgedStorage"/>.</summary>
    private static void DecorateStorage(IServiceCollection services, string name)
    {
        var registered = services.Single(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name));
        var create = registered.KeyedImplementationFactory
            ?? throw new InvalidOperationException($"Grain storage '{name}' is not registered through a factory; it cannot wait for Redis replicas.");
        services.Remove(registered);
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) =>
            new ReplicaAcknowledgedStorage((IGrainStorage)create(sp, key), sp.GetRequiredService<ReplicaWait>()));
    }
}
