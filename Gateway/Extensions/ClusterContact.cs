using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Extensions;

/// <summary>
/// Whether this gateway can reach the cluster. It asks a silo for the cluster's members every few seconds (the
/// management grain: no storage involved, so a Redis outage is not taken for a partition); when no
/// answer came for <see cref="GatewayOptions.ClusterLostAfter"/> (the gateway is cut off from every silo, or the
/// silos are all gone), its connections can get nothing: it closes every WebSocket with
/// <see cref="WebSockets.CloseCodes.ClusterUnreachable"/>, ends every SSE stream, and refuses new ones with 503
/// until an answer comes again, so clients resume on another gateway instead of waiting out the partition.
/// (<c>/readyz</c> fails meanwhile too, so a load balancer stops sending them here.)
/// </summary>
public sealed partial class ClusterContact(IGrainFactory grains, IOptions<GatewayOptions> options, WebSockets.HeartbeatMonitor sessions, TimeProvider time, ILogger<ClusterContact> logger) : BackgroundService
{
    private readonly GatewayOptions _options = options.Value;
    private CancellationTokenSource _lost = new();
    private volatile bool _isLost;

    /// <summary>Whether the cluster has not answered for <see cref="GatewayOptions.ClusterLostAfter"/>.</summary>
    public bool IsLost => _isLost;

    /// <summary>Cancelled when the cluster is declared lost (a new token after it is back).</summary>
    public CancellationToken LostToken => Volatile.Read(ref _lost).Token;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(200).Ticks, _options.ClusterLostAfter.Ticks / 4));
        var lastAnswer = time.GetTimestamp();
        using var timer = new PeriodicTimer(every, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (await AnswersAsync(every, stoppingToken))
                {
                    lastAnswer = time.GetTimestamp();
                    if (_isLost)
                    {
                        _isLost = false;
                        Interlocked.Exchange(ref _lost, new CancellationTokenSource()).Dispose();
                        LogBack(logger);
                    }
                }
                else if (!_isLost && time.GetElapsedTime(lastAnswer) >= _options.ClusterLostAfter)
                {
                    _isLost = true;
                    LogLost(logger, _options.ClusterLostAfter.TotalSeconds, sessions.Count);
                    sessions.CloseAll(WebSockets.CloseCodes.ClusterUnreachable, "cluster unreachable from this gateway: reconnect and resume");
                    await Volatile.Read(ref _lost).CancelAsync();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> AnswersAsync(TimeSpan timeout, CancellationToken stoppingToken)
    {
        try
        {
            await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(timeout, time, stoppingToken);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    [LoggerMessage(5401, LogLevel.Error, "The cluster has not answered for {Seconds} s: closing this gateway's {Connections} WebSockets (4002) and its SSE streams, refusing new ones until it answers")]
    private static partial void LogLost(ILogger logger, double seconds, int connections);

    [LoggerMessage(5402, LogLevel.Warning, "The cluster answers again: accepting connections")]
    private static partial void LogBack(ILogger logger);
}
