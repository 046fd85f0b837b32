namespace BookShelf.Grains.Interfaces.Models;

/// <summary>
/// The answer to "events after seq N": the events in seq order, the group's last seq when read, and
/// <see cref="Reset"/> when the feed no longer replays that far back (the reader must reload instead).
/// </summary>
[GenerateSerializer, Immutable, Alias("BookShelf.FeedRead")]
public sealed record FeedRead(
    [property: Id(0)] IReadOnlyList<FeedEvent> Events,
    [property: Id(1)] long LastSeq,
    [property: Id(2)] bool Reset);
