using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;

namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>
/// A one-silo cluster whose posts remember request ids for 2 seconds after the last copy of a request could come
/// (<see cref="FeedOptions.RequestRetryWindow"/>), so that a test can watch them go.
/// </summary>
public sealed class ShortRetryWindowClusterFixture : ClusterFixture
{
    /// <summary>The window, in this cluster.</summary>
    public static readonly TimeSpan RequestRetryWindow = TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    protected override int SiloCount => 1;

    /// <inheritdoc />
    protected override void ConfigureSilo(ISiloBuilder silo) =>
        silo.Services.Configure<FeedOptions>(o => o.RequestRetryWindow = RequestRetryWindow);
}

/// <summary>Tests sharing one <see cref="ShortRetryWindowClusterFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class ShortRetryWindowClusterCollection : ICollectionFixture<ShortRetryWindowClusterFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Short retry window cluster";
}
