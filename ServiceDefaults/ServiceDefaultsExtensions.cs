using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace BookShelf.ServiceDefaults;

/// <summary>
/// What every BookShelf host has: metrics on a Prometheus endpoint, health and readiness endpoints, shutdown timing,
/// and, when an OTLP endpoint is configured, traces exported over OTLP.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>The tag that marks readiness checks.</summary>
    public const string ReadyTag = "ready";

    /// <summary>The OpenTelemetry activity source of BookShelf's own spans.</summary>
    public const string ActivitySourceName = "BookShelf";

    /// <summary>
    /// The host's start-up options: its content root (where <c>appsettings.json</c> is read from, and which the host
    /// watches, with every folder below it, for changes) is the folder the program is in, not the working directory,
    /// unless <c>--contentRoot</c>, <c>ASPNETCORE_CONTENTROOT</c> or <c>DOTNET_CONTENTROOT</c> names one. Started from a repository or a data
    /// folder, a host would otherwise ignore its own settings and take an inotify event for every write below it
    /// (Redis' append-only file, logs): about 1 % of the machine per silo under the hot-site bench; from <c>/</c> it
    /// would try to watch the whole file system.
    /// </summary>
    public static WebApplicationOptions StartOptions(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var named = args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase) || a.StartsWith("/contentRoot", StringComparison.OrdinalIgnoreCase))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT"));
        return new WebApplicationOptions { Args = args, ContentRootPath = named ? null : AppContext.BaseDirectory };
    }

    /// <summary>
    /// Whether traces are on: <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (the standard variable, or the same key in any
    /// configuration source) names a collector. Off, nothing traces and Orleans propagates no trace context.
    /// </summary>
    public static bool TracingEnabled(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration?["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    /// <summary>
    /// Registers OpenTelemetry metrics (BookShelf's, Orleans' and the .NET runtime's meters: GC pauses, thread pool,
    /// CPU) exported for Prometheus, health checks,
    /// and, when <see cref="TracingEnabled"/>, traces (ASP.NET Core requests, every Orleans grain call, BookShelf's
    /// spans) exported over OTLP as <paramref name="serviceName"/> (<c>OTEL_SERVICE_NAME</c> overrides it).
    /// </summary>
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder, string serviceName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : serviceName))
            .WithMetrics(metrics => metrics
            .AddMeter("BookShelf", "Microsoft.Orleans", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.WebSockets", "System.Runtime")
            .AddPrometheusExporter());
        if (TracingEnabled(builder.Configuration))
        {
            // The OTLP exporter reads its endpoint, protocol and headers from the standard OTEL_* variables.
            telemetry.WithTracing(tracing => tracing
                .AddSource(ActivitySourceName, "Microsoft.Orleans.*") // every Orleans source (ActivitySources.AllActivitySourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsProbe(context.Request.Path))
                .AddOtlpExporter());
        }

        builder.Services.AddHealthChecks();
        // SIGTERM: give grains and connections time to move or close before the process ends.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        return builder;
    }

    /// <summary>Health probes and scrapes are not traced: they would bury the requests that matter.</summary>
    private static bool IsProbe(Microsoft.AspNetCore.Http.PathString path) =>
        path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz") || path.StartsWithSegments("/metrics");

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
