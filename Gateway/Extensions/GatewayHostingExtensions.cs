using System.Text.Json;
using BookShelf.Gateway.Accounts;
using BookShelf.Gateway.Feed;
using BookShelf.Gateway.Options;
using BookShelf.Gateway.Posts;
using BookShelf.ServiceDefaults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Orleans.Configuration;
using GatewayOptions = BookShelf.Gateway.Options.GatewayOptions;
using StackExchange.Redis;

namespace BookShelf.Gateway.Extensions;

/// <summary>How a gateway node is assembled: the Orleans client, the feed, accounts, the APIs' services.</summary>
public static partial class GatewayHostingExtensions
{
    /// <summary>The authentication scheme that picks bearer tokens or the sign-in cookie.</summary>
    public const string SmartScheme = "CookieOrBearer";

    /// <summary>Adds everything a gateway node needs, configured from the <c>Orleans</c> and <c>Gateway</c> sections.</summary>
    public static WebApplicationBuilder AddBookShelfGateway(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations()
            .Validate(o => o.KnownProxies.All(p => System.Net.IPAddress.TryParse(p, out _)), "Gateway:KnownProxies must be IP addresses.")
            .ValidateOnStart();
        builder.Services.AddOptions<GatewayFeedOptions>().BindConfiguration(GatewayFeedOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<Presence.PresenceOptions>().BindConfiguration(Presence.PresenceOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var settings = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        var redis = RedisConnection.Options(settings, GatewayOptions.Section);
        RedisConnection.ReservePoolThreads();

        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = builder.Configuration["Orleans:ClusterId"] ?? "bookshelf";
                o.ServiceId = builder.Configuration["Orleans:ServiceId"] ?? "bookshelf";
            });
            client.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = settings.GrainCallTimeout + TimeSpan.FromSeconds(1));
            if (ServiceDefaultsExtensions.TracingEnabled(builder.Configuration))
            {
                // One trace from the HTTP request through every grain call it makes.
                client.AddActivityPropagation();
            }

            client.UseConnectionRetryFilter(async (exception, cancellationToken) =>
            {
                // Silos may start after the gateway: keep trying until they are up or we are stopped.
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                return !cancellationToken.IsCancellationRequested;
            });
        });

        // The WebSocket fast path sits below HTTP on every endpoint (see UpdateNoticeFastPath).
        // Kestrel's limits (Kestrel:Limits:*) are the WebSocket fast path's too: bind them where both read them.
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(builder.Configuration.GetSection("Kestrel"));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen =>
            listen.Use(next => new WebSockets.UpdateNoticeFastPath(next, listen.ApplicationServices).OnConnectionAsync)));
        if (settings.SocketSendBufferBytes > 0)
        {
            // Accepted sockets inherit SO_SNDBUF from the listening socket.
            builder.WebHost.UseSockets(o => o.CreateBoundListenSocket = endpoint =>
            {
                var socket = Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
                socket.SendBufferSize = settings.SocketSendBufferBytes;
                return socket;
            });
        }

        builder.Services.TryAddSingletonTimeProvider();
        builder.Services.AddSingleton<Diagnostics.GatewayMetrics>();
        builder.Services.AddSingleton(sp => new FanOutThreads(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayFeedOptions>>().Value.FanOutNice));
        builder.Services.AddSingleton<GatewayFeed>();
        builder.Services.AddSingleton<KnownGroups>();
        builder.Services.AddHostedService<GatewayFeedService>();
        builder.Services.AddSingleton<Presence.PresenceTracker>();
        builder.Services.AddSingleton<WebSockets.HeartbeatMonitor>();
        builder.Services.AddSingleton<WebSockets.ConnectionCaps>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WebSockets.HeartbeatMonitor>());
        builder.Services.AddSingleton<ClusterContact>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ClusterContact>());
        builder.Services.AddSingleton<AccountService>();
        builder.Services.AddSingleton<SessionLeaseCache>();
        builder.Services.AddSingleton<GrainCalls>();
        builder.Services.AddSingleton<PostIds>();
        builder.Services.AddSingleton<PostService>();
        builder.Services.AddSingleton<RecentPosts>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RecentPosts>());
        builder.Services.AddSingleton<PostCountsCache>();
        builder.Services.AddSingleton<PostWrites>();
        builder.Services.AddSingleton<RateLimits>();

        // One connection for what the gateway keeps in Redis itself: the shared key ring and the rate-limit counters.
        var shared = new Lazy<IConnectionMultiplexer>(() => ConnectionMultiplexer.Connect(redis.Clone()));
        builder.Services.AddSingleton(_ => shared.Value);

        // Every gateway shares one key ring in Redis, so cookies and tokens work on all of them; with a certificate
        // configured the keys are encrypted there, so reading Redis is not enough to forge a sign-in.
        var keyRing = builder.Services.AddDataProtection()
            .SetApplicationName("BookShelf")
            .PersistKeysToStackExchangeRedis(() => shared.Value.GetDatabase(), "bookshelf:dataprotection-keys");
        if (settings.DataProtectionCertificatePath is { Length: > 0 } certificate)
        {
            keyRing.ProtectKeysWithCertificate(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(
                certificate, settings.DataProtectionCertificatePassword, System.Security.Cryptography.X509Certificates.X509KeyStorageFlags.EphemeralKeySet));
        }

        builder.Services.Configure<Microsoft.AspNetCore.Builder.ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto;
            // Only the configured proxies, not the framework's default of loopback.
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var proxy in settings.KnownProxies)
            {
                if (System.Net.IPAddress.TryParse(proxy, out var address))
                {
                    o.KnownProxies.Add(address);
                }
            }
        });
        builder.Services.AddAuthentication(SmartScheme)
            .AddPolicyScheme(SmartScheme, "Cookie or bearer token", o => o.ForwardDefaultSelector = context =>
                context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? TokenAuthenticationHandler.SchemeName
                    : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.LoginPath = "/signin";
                o.LogoutPath = "/signout";
                o.Cookie.Name = "bookshelf";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                // Secure whenever the request is HTTPS, including behind a known proxy that says so (X-Forwarded-Proto).
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.SlidingExpiration = true;
                o.Events.OnRedirectToLogin = context => ApiAware(context, StatusCodes.Status401Unauthorized);
                // A cookie is good only while its session is: signing out (or a revoked session) ends every copy of it.
                o.Events.OnValidatePrincipal = async context =>
                {
                    var name = context.Principal?.Identity?.Name;
                    var session = context.Principal?.FindFirst(AccountService.SessionClaim)?.Value;
                    if (name is null || session is null
                        || !await context.HttpContext.RequestServices.GetRequiredService<AccountService>().IsSessionActiveAsync(name, session, context.HttpContext.RequestAborted))
                    {
                        context.RejectPrincipal();
                        await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                    }
                };
                o.Events.OnRedirectToAccessDenied = context => ApiAware(context, StatusCodes.Status403Forbidden);
            })
            .AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null);
        // API writes take bearer tokens only: a browser's sign-in cookie rides along on any cross-site form post, so
        // it must never be enough to write through the API (the pages' own forms carry antiforgery tokens).
        builder.Services.AddAuthorization(o => o.AddPolicy(ApiWritePolicy, p => p.AddAuthenticationSchemes(TokenAuthenticationHandler.SchemeName).RequireAuthenticatedUser()));
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddRazorPages(o => o.Conventions.AuthorizePage("/Posts/New"));
        builder.AddServiceDefaults("bookshelf-gateway");
        builder.Services.AddHealthChecks().AddCheck<ClusterHealthCheck>("cluster", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return builder;
    }

    /// <summary>The authorization policy of API writes: a bearer token, never the sign-in cookie.</summary>
    public const string ApiWritePolicy = "api-writes";

    /// <summary>Logs, once at start, every setting that leaves the gateway open to someone who can read its Redis.</summary>
    public static WebApplication WarnAboutUnsafeSettings(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var settings = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value;
        if (string.IsNullOrEmpty(settings.DataProtectionCertificatePath))
        {
            LogKeyRingUnencrypted(app.Logger);
        }

        return app;
    }

    [LoggerMessage(5301, LogLevel.Warning, "The data-protection key ring in Redis is not encrypted: anyone who can read Redis can forge any user's cookie or token. Set Gateway:DataProtectionCertificatePath (see docs/deployment.md)")]
    private static partial void LogKeyRingUnencrypted(ILogger logger);

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    /// <summary>APIs answer 401/403 as problem details; pages redirect to sign in.</summary>
    private static Task ApiAware(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (context.Request.Path.StartsWithSegments("/api"))
        {
            context.Response.StatusCode = status;
            return context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context.HttpContext,
                ProblemDetails = { Status = status, Title = status == 401 ? "Sign in required" : "Forbidden", Detail = status == 401 ? "Send 'Authorization: Bearer <token>' (POST /api/tokens) or sign in." : "You may not do this." },
            }).AsTask();
        }

        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
