using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Hosting;
using Orleans.Streams;

namespace BookShelf.Grains.Hosting;

/// <summary>What every BookShelf silo needs besides clustering and storage providers.</summary>
public static class GrainsSiloBuilderExtensions
{
    /// <summary>
    /// Registers the feed options (validated on start) and the post-event stream. The stream uses implicit
    /// subscriptions only, so it needs no pub-sub store.
    /// </summary>
    public static ISiloBuilder AddBookShelfGrains(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<FeedOptions>()
            .BindConfiguration(FeedOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<Diagnostics.FeedMetrics>();
        builder.AddMemoryStreams(StorageNames.StreamProvider, b => b.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly));
        return builder;
    }
}
