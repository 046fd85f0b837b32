using BookShelf.Gateway.Apis;
using BookShelf.Gateway.Extensions;
using BookShelf.Gateway.Sse;
using BookShelf.Gateway.WebSockets;
using BookShelf.ServiceDefaults;

var builder = WebApplication.CreateBuilder(ServiceDefaultsExtensions.StartOptions(args));
builder.AddBookShelfGateway();

var app = builder.Build();
app.WarnAboutUnsafeSettings();
app.UseForwardedHeaders();
app.UseAccountBodyLimit();
app.UseSecurityHeaders();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseStaticFiles();
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapUpdateNotice();
app.MapSseUpdateNotice();
app.MapAccountsApi();
app.MapPostsApi();
app.MapRazorPages();
app.Run();

/// <summary>The gateway host (visible to the test host).</summary>
public partial class Program;
