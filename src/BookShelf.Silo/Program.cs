using BookShelf.Silo.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddBookShelfSilo();

var app = builder.Build();
app.MapGet("/healthz", () => "ok");
app.Run();
