using BookShelf.ServiceDefaults;
using BookShelf.Silo;
using BookShelf.Silo.Extensions;
using Orleans.Dashboard;

if (args is ["status", ..])
{
    // The operator's view: ./bookshelf status runs this against the running cluster.
    return await ClusterStatus.RunAsync(args[1..]);
}

var builder = WebApplication.CreateBuilder(ServiceDefaultsExtensions.StartOptions(args));
builder.AddServiceDefaults("bookshelf-silo");
builder.AddBookShelfSilo();
builder.Services.AddHealthChecks().AddCheck<SiloReadyHealthCheck>("membership", tags: [ServiceDefaultsExtensions.ReadyTag]);

var app = builder.Build();
app.MapDefaultEndpoints();
var silo = builder.Configuration.GetSection(SiloOptions.Section).Get<SiloOptions>() ?? new SiloOptions();
if (silo.Dashboard)
{
    app.UseWhen(context => context.Request.Path.StartsWithSegments("/dashboard"), dashboard => dashboard.Use((context, next) =>
    {
        // Not for the public: this machine only, unless Silo:DashboardAllowRemote says otherwise.
        if (!ServiceDefaultsExtensions.MetricsAllowed(context.Connection.RemoteIpAddress, silo.DashboardAllowRemote))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        }

        return next(context);
    }));
    app.MapOrleansDashboard("/dashboard");
}

await app.RunAsync();
return 0;
