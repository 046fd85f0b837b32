using BookShelf.ServiceDefaults;
using BookShelf.Silo.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddBookShelfSilo();
builder.Services.AddHealthChecks().AddCheck<SiloReadyHealthCheck>("membership", tags: [ServiceDefaultsExtensions.ReadyTag]);

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
