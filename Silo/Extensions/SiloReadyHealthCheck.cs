using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace BookShelf.Silo.Extensions;

/// <summary>Ready once this silo is an active member of the cluster.</summary>
public sealed class SiloReadyHealthCheck(IClusterMembershipService membership, ILocalSiloDetails local) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshot = membership.CurrentSnapshot;
        var status = snapshot.GetSiloStatus(local.SiloAddress);
        var active = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy($"active; {active} active silo(s)")
            : HealthCheckResult.Unhealthy($"silo is {status}"));
    }
}
