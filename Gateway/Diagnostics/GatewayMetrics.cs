using System.Diagnostics.Metrics;

namespace BookShelf.Gateway.Diagnostics;

/// <summary>The gateway side of BookShelf's meter.</summary>
public sealed class GatewayMetrics
{
    private readonly UpDownCounter<long> _connections;
    private readonly UpDownCounter<long> _subscriptions;
    private readonly Counter<long> _deliveries;
    private readonly Histogram<double> _fanOutLatency;
    private readonly Histogram<double> _fanOutDuration;
    private readonly Counter<long> _gapsFilled;
    private readonly Counter<long> _resumes;
    private readonly Counter<long> _slowConsumers;
    private readonly Counter<long> _resets;
    private readonly Counter<long> _sessionChecks;

    /// <summary>Creates the instruments.</summary>
    public GatewayMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create("BookShelf");
        _connections = meter.CreateUpDownCounter<long>("bookshelf.gateway.connections", description: "Open WebSocket connections and SSE streams.");
        _subscriptions = meter.CreateUpDownCounter<long>("bookshelf.gateway.subscriptions", description: "Connection subscriptions, by group kind (site or post).");
        _deliveries = meter.CreateCounter<long>("bookshelf.gateway.deliveries", description: "Event frames queued to connections.");
        _fanOutLatency = meter.CreateHistogram<double>("bookshelf.gateway.fanout.latency", unit: "ms", description: "From the event's creation to its arrival at this gateway.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000] });
        _fanOutDuration = meter.CreateHistogram<double>("bookshelf.gateway.fanout.duration", unit: "ms", description: "How long handing a batch of events to every local connection of its group took.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000] });
        _gapsFilled = meter.CreateCounter<long>("bookshelf.gateway.gaps_filled", description: "Gaps this gateway filled from a feed.");
        _resumes = meter.CreateCounter<long>("bookshelf.gateway.resumes", description: "Subscriptions that resumed from a seq.");
        _slowConsumers = meter.CreateCounter<long>("bookshelf.gateway.slow_consumers", description: "Connections closed for not reading fast enough.");
        _resets = meter.CreateCounter<long>("bookshelf.gateway.resets", description: "Reset frames sent (resume beyond the feed's reach).");
        _sessionChecks = meter.CreateCounter<long>("bookshelf.gateway.session_checks", description: "Sessions of authenticated requests checked, by where the answer came from (a lease held here, or the user's grain).");
    }

    /// <summary>A connection opened (+1) or closed (-1).</summary>
    public void Connection(int delta) => _connections.Add(delta);

    /// <summary>A subscription was added (+1) or removed (-1).</summary>
    public void Subscription(string group, int delta) => _subscriptions.Add(delta, new KeyValuePair<string, object?>("group.kind", group == Groups.Site ? "site" : "post"));

    /// <summary>Frames were queued to connections.</summary>
    public void Delivered(int frames) => _deliveries.Add(frames);

    /// <summary>An event arrived; records how long after its creation.</summary>
    public void Arrived(DateTimeOffset createdAt, DateTimeOffset now) => _fanOutLatency.Record(Math.Max(0, (now - createdAt).TotalMilliseconds));

    /// <summary>A batch of events was handed to every local connection of its group in <paramref name="milliseconds"/>.</summary>
    public void FannedOut(double milliseconds) => _fanOutDuration.Record(milliseconds);

    /// <summary>A gap was filled.</summary>
    public void GapFilled() => _gapsFilled.Add(1);

    /// <summary>A subscription resumed.</summary>
    public void Resumed() => _resumes.Add(1);

    /// <summary>A connection was cut off as too slow.</summary>
    public void SlowConsumer() => _slowConsumers.Add(1);

    /// <summary>A reset frame was sent.</summary>
    public void Reset() => _resets.Add(1);

    /// <summary>An authenticated request's session was checked, from a lease held here or by asking the cluster.</summary>
    public void SessionChecked(bool fromLease) => _sessionChecks.Add(1, new KeyValuePair<string, object?>("answered_by", fromLease ? "lease" : "cluster"));
}
