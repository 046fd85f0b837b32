using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BookShelf.Gateway.Extensions;

/// <summary>Ready when a grain call through the cluster answers: the site feed's stats.</summary>
public sealed class ClusterHealthCheck(IGrainFactory grains) : IHealthCheck
{
    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var stats = await grains.GetGrain<IUpdaterGrain>(Groups.Site).GetStatsAsync().WaitAsync(TimeSpan.FromSeconds(3), cancellationToken);
            return HealthCheckResult.Healthy($"site feed at seq {stats.LastSeq}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("The cluster does not answer.", ex);
        }
    }
}
