using BookShelf.Silo.Extensions;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;

var builder = WebApplication.CreateBuilder(args);
builder.AddBookShelfSilo();
builder.Services.AddHealthChecks().AddCheck<SiloReadyHealthCheck>("membership", tags: ["ready"]);

var app = builder.Build();
app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
app.Run();
