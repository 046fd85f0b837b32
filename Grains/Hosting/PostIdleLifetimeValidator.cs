using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace BookShelf.Grains.Hosting;

/// <summary>
/// Refuses, at start, a <see cref="FeedOptions.PostIdleLifetime"/> Orleans' collector cannot honour (not longer than
/// its <see cref="GrainCollectionOptions.CollectionQuantum"/>), naming the setting the operator wrote; Orleans' own
/// check would name only the grain class.
/// </summary>
public sealed class PostIdleLifetimeValidator : IValidateOptions<GrainCollectionOptions>
{
    /// <summary>The collection age key of posts.</summary>
    public static readonly string PostGrainKey = typeof(Posts.PostGrain).FullName!;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, GrainCollectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ClassSpecificCollectionAge.TryGetValue(PostGrainKey, out var lifetime) && lifetime <= options.CollectionQuantum)
        {
            return ValidateOptionsResult.Fail(
                $"{FeedOptions.Section}:{nameof(FeedOptions.PostIdleLifetime)} is {lifetime}; it must be longer than the activation collector's interval, GrainCollectionOptions.CollectionQuantum ({options.CollectionQuantum}).");
        }

        return ValidateOptionsResult.Success;
    }
}
