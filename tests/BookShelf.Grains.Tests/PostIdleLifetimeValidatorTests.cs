using BookShelf.Grains.Hosting;
using Orleans.Configuration;

namespace BookShelf.Grains.Tests;

/// <summary>An idle lifetime the collector cannot honour is refused at start, naming the setting.</summary>
public sealed class PostIdleLifetimeValidatorTests
{
    [Fact]
    public void ALifetimeNotLongerThanTheCollectorsIntervalIsRefusedNamingTheSetting()
    {
        var options = new GrainCollectionOptions { CollectionQuantum = TimeSpan.FromMinutes(1) };
        options.ClassSpecificCollectionAge[PostIdleLifetimeValidator.PostGrainKey] = TimeSpan.FromSeconds(30);

        var result = new PostIdleLifetimeValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Feed:PostIdleLifetime", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultLifetimeIsAccepted()
    {
        var options = new GrainCollectionOptions();
        options.ClassSpecificCollectionAge[PostIdleLifetimeValidator.PostGrainKey] = new FeedOptions().PostIdleLifetime;

        Assert.True(new PostIdleLifetimeValidator().Validate(null, options).Succeeded);
    }
}
