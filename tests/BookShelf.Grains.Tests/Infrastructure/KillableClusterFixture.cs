namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>A cluster of its own for tests that kill silos, so other tests never see it degraded.</summary>
public sealed class KillableClusterFixture : ClusterFixture
{
    /// <inheritdoc />
    public override int MaxReplay => 1000;
}

/// <summary>Tests sharing one <see cref="KillableClusterFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class KillableClusterCollection : ICollectionFixture<KillableClusterFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Killable cluster";
}
