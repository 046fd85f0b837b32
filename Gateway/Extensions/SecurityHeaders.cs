namespace BookShelf.Gateway.Extensions;

/// <summary>
/// Security headers: no MIME sniffing on any answer; on pages, a content security policy without inline script
/// (the pages load one module, <c>/js/live.js</c>, from this origin), no framing by other sites, no referrer to
/// other sites.
/// </summary>
public static class SecurityHeaders
{
    /// <summary>The content security policy of every page.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    /// <summary>Adds the headers: <c>nosniff</c> to every response, the policy and framing rules to every page.</summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            var response = context.Response;
            response.OnStarting(() =>
            {
                var headers = response.Headers;
                headers.XContentTypeOptions = "nosniff";
                if (response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true)
                {
                    headers.ContentSecurityPolicy = ContentSecurityPolicy;
                    headers.XFrameOptions = "DENY";
                    headers["Referrer-Policy"] = "same-origin";
                }

                return Task.CompletedTask;
            });
            return next(context);
        });
}
