using System.Collections.Concurrent;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace BookShelf.Grains.Tests.Infrastructure;

/// <summary>
/// Grain storage for in-process test clusters that outlives any one silo: every silo of the process shares the
/// same dictionary, so killing a silo loses nothing that was written (Orleans' memory storage keeps state in
/// grains, which die with their silo). States are stored serialized and checked by ETag, like real storage.
/// </summary>
public sealed class SharedMemoryGrainStorage(
    ConcurrentDictionary<string, (byte[] Data, string ETag)> store,
    Serializer serializer,
    ConcurrentDictionary<string, int>? writes = null,
    ConcurrentDictionary<string, Func<Func<Task>, Task>>? interceptors = null) : IGrainStorage
{
    /// <summary>The key of a grain's state in the store (and in the write counts).</summary>
    public static string Key(string stateName, GrainId grainId) => $"{stateName}|{grainId}";

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (store.TryGetValue(Key(stateName, grainId), out var entry))
        {
            grainState.State = serializer.Deserialize<T>(entry.Data);
            grainState.ETag = entry.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // A test's interceptor takes the next write of its key (once): it may hold it, or lose its answer.
        if (interceptors is not null && interceptors.TryRemove(Key(stateName, grainId), out var intercept))
        {
            return intercept(() => WriteStateAsync(stateName, grainId, grainState));
        }

        var key = Key(stateName, grainId);
        var data = serializer.SerializeToArray(grainState.State);
        var etag = Guid.NewGuid().ToString("N");
        lock (store)
        {
            var current = store.TryGetValue(key, out var entry) ? entry.ETag : null;
            if (current != grainState.ETag)
            {
                throw new InconsistentStateException($"ETag mismatch for {key}", current, grainState.ETag);
            }

            store[key] = (data, etag);
        }

        writes?.AddOrUpdate(key, 1, (_, n) => n + 1);

        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (store)
        {
            store.TryRemove(Key(stateName, grainId), out _);
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
        return Task.CompletedTask;
    }
}
