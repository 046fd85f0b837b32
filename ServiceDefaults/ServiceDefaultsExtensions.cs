using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;

namespace BookShelf.ServiceDefaults;

/// <summary>What every BookShelf host has: metrics on a Prometheus endpoint, health and readiness endpoints, shutdown timing.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>The tag that marks readiness checks.</summary>
    public const string ReadyTag = "ready";

    /// <summary>Registers OpenTelemetry metrics (BookShelf's and Orleans' meters) exported for Prometheus, and health checks.</summary>
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter("BookShelf", "Microsoft.Orleans", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.WebSockets")
            .AddPrometheusExporter());
        builder.Services.AddHealthChecks();
        // SIGTERM: give grains and connections time to move or close before the process ends.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        return builder;
    }

    /// <summary>Whether a request from <paramref name="remote"/> may read <c>/metrics</c>: this machine always, others only when allowed.</summary>
    public static bool MetricsAllowed(System.Net.IPAddress? remote, bool allowRemote) =>
        allowRemote || remote is null || System.Net.IPAddress.IsLoopback(remote);

    /// <summary>
    /// Maps <c>/healthz</c> (alive), <c>/readyz</c> (the checks tagged ready) and <c>/metrics</c> (Prometheus).
    /// <c>/metrics</c> answers only requests from this machine (loopback) unless <c>Metrics:AllowRemote</c> is true:
    /// what a gateway counts is not for the public port.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        var allowRemote = app.Configuration.GetValue("Metrics:AllowRemote", false);
        app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/metrics") && !MetricsAllowed(context.Connection.RemoteIpAddress, allowRemote))
            {
                context.Response.StatusCode = 403;
                return Task.CompletedTask;
            }

            return next(context);
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
