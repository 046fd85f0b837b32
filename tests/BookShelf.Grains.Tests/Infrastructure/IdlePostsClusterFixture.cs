using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;

namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>
/// A one-silo cluster whose activation collector looks every second instead of every minute, so that a test can
/// watch idle activations go within seconds.
/// </summary>
public sealed class IdlePostsClusterFixture : ClusterFixture
{
    /// <summary>How long a post's activation stays once idle, in this cluster.</summary>
    /// <remarks>Long enough that a stall of a loaded machine between two uses does not count as idleness.</remarks>
    public static readonly TimeSpan PostIdleLifetime = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    protected override int SiloCount => 1;

    /// <inheritdoc />
    protected override void ConfigureSilo(ISiloBuilder silo)
    {
        silo.Services.Configure<GrainCollectionOptions>(o => o.CollectionQuantum = TimeSpan.FromSeconds(1));
        silo.Services.Configure<FeedOptions>(o => o.PostIdleLifetime = PostIdleLifetime);
    }
}

/// <summary>Tests sharing one <see cref="IdlePostsClusterFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class IdlePostsClusterCollection : ICollectionFixture<IdlePostsClusterFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Idle posts cluster";
}
