using Orleans.Runtime;
using Orleans.Storage;

namespace BookShelf.Silo.Extensions;

/// <summary>
/// Grain storage whose writes count only once Redis replicas hold them (<c>Silo:RedisReplicasToAck</c>): after
/// the inner storage's write returns, a marker key is incremented on the connection that write went over (one
/// connection is shared by every storage, the journal and the WAITs) and <c>WAIT n timeout</c> asks how many
/// replicas have it. Redis replicates its commands in the order it ran them,
/// so a replica that has the marker has the write (and the outbox-journal mark written before it): see
/// <see cref="ReplicaWait"/>. Too few replicas in time: the write throws, the post answers 503 (outcome unknown),
/// and nothing is acknowledged that a failover to a replica could lose.
/// </summary>
public sealed class ReplicaAcknowledgedStorage(IGrainStorage inner, ReplicaWait replicaWait)
    : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    /// <inheritdoc />
    /// <remarks>
    /// A read waits for the replicas too: a grain may answer from what it read (a retried request finds its post
    /// stored and says 201), so what it read must be what a failover keeps. A write whose WAIT failed is found by
    /// the next read only once the replicas have it; a server that must not be the primary (one restarted with its
    /// old role and no replicas) fails every read and write instead of serving old state.
    /// </remarks>
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await inner.ReadStateAsync(stateName, grainId, grainState);
        await WaitForReplicasAsync(grainId, "read");
    }

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await inner.WriteStateAsync(stateName, grainId, grainState);
        await WaitForReplicasAsync(grainId);
    }

    /// <inheritdoc />
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await inner.ClearStateAsync(stateName, grainId, grainState);
        await WaitForReplicasAsync(grainId);
    }

    /// <inheritdoc />
    public void Participate(ISiloLifecycle observer)
    {
        if (inner is ILifecycleParticipant<ISiloLifecycle> participant)
        {
            participant.Participate(observer);
        }
    }

    private async Task WaitForReplicasAsync(GrainId grainId, string what = "write")
    {
        var count = await replicaWait.NextAsync();
        if (count < replicaWait.Replicas)
        {
            // An OrleansException: the failure crosses grain calls to silos and gateways that know no type of this one.
            throw new OrleansException(
                $"The {what} of {grainId} reached {count} of the {replicaWait.Replicas} Redis replica(s) it must reach within {replicaWait.Timeout.TotalMilliseconds:F0} ms (Silo:RedisReplicasToAck); it does not count.");
        }
    }
}

