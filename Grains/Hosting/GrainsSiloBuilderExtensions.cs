using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Streams;

namespace BookShelf.Grains.Hosting;

/// <summary>What every BookShelf silo needs besides clustering and storage providers.</summary>
public static class GrainsSiloBuilderExtensions
{
    /// <summary>
    /// Registers the feed and accounts options (validated on start), the idle lifetime of posts' activations and the post-event stream. The stream uses implicit
    /// subscriptions only, so it needs no pub-sub store.
    /// </summary>
    public static ISiloBuilder AddBookShelfGrains(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<FeedOptions>()
            .BindConfiguration(FeedOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<AccountsOptions>()
            .BindConfiguration(AccountsOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<GrainCollectionOptions>().Configure<IOptions<FeedOptions>>(
            (collection, feed) => collection.ClassSpecificCollectionAge[PostIdleLifetimeValidator.PostGrainKey] = feed.Value.PostIdleLifetime)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GrainCollectionOptions>, PostIdleLifetimeValidator>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<Diagnostics.FeedMetrics>();
        // The outbox journal itself (Redis in production) is registered by the host.
        builder.Services.AddSingleton<Feed.FeedAppender>();
        builder.Services.AddSingleton<Feed.StreamCopies>();
        builder.Services.AddSingleton<Posts.OutboxSweeper>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Posts.OutboxSweeper>());
        builder.AddMemoryStreams(StorageNames.StreamProvider, stream =>
        {
            stream.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);
            // Every queue's pulling agent polls even when nothing is posted; the defaults (8 queues, every 100 ms)
            // woke the silos 80 times a second for a path that only ever carries a copy of what the confirmation
            // already delivered.
            stream.Configure<HashRingStreamQueueMapperOptions>(o => o.Configure<IOptions<FeedOptions>>(
                (mapper, feed) => mapper.TotalQueueCount = feed.Value.StreamQueues));
            stream.ConfigurePullingAgent(o => o.Configure<IOptions<FeedOptions>>(
                (agent, feed) => agent.GetQueueMsgsTimerPeriod = feed.Value.StreamPollingPeriod));
        });
        return builder;
    }
}
