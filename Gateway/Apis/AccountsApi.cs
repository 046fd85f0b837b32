using BookShelf.Gateway.Accounts;
using BookShelf.Gateway.Options;
using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Apis;

/// <summary><c>/api/accounts</c> (sign up) and <c>/api/tokens</c> (bearer tokens for scripts).</summary>
public static class AccountsApi
{
    /// <summary>Largest body of a sign-up or a token request: a name and a password fit many times over.</summary>
    public const long MaxBodyBytes = 4096;

    /// <summary>Caps the body of sign-up, sign-in and token requests (API and pages) at <see cref="MaxBodyBytes"/> (413 past it), before it is read.</summary>
    public static IApplicationBuilder UseAccountBodyLimit(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (HttpMethods.IsPost(context.Request.Method) && IsAccountPath(context.Request.Path)
                && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxBodyBytes;
            }

            return next(context);
        });

    private static bool IsAccountPath(PathString path) =>
        path.Equals("/api/accounts") || path.Equals("/api/tokens") || path.Equals("/signin") || path.Equals("/signup");

    /// <summary>Maps the account endpoints.</summary>
    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/accounts", CreateAccountAsync);
        app.MapPost("/api/tokens", CreateTokenAsync);
        app.MapDelete("/api/tokens/current", RevokeTokenAsync).RequireAuthorization(Extensions.GatewayHostingExtensions.ApiWritePolicy);
        return app;
    }

    /// <summary>Signs up: 201, 400 with field errors, 409 when the name is taken.</summary>
    public static async Task<Results<Created<AccountResponse>, ValidationProblem, ProblemHttpResult>> CreateAccountAsync(CredentialsRequest request, AccountService accounts, RateLimits limits, HttpContext context)
    {
        var errors = AccountService.ValidateSignUp(request.Username, request.Password);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        if (!await limits.TrySignUpAsync(ClientAddress.KeyOf(context.Connection.RemoteIpAddress)))
        {
            return TooMany(context, limits);
        }

        if (!await accounts.RegisterAsync(request.Username!, request.Password!))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Name taken", detail: $"The user name '{request.Username}' is taken.");
        }

        return TypedResults.Created($"/api/accounts/{request.Username}", new AccountResponse(request.Username!));
    }

    /// <summary>Issues a bearer token: 201, 401 for wrong credentials, 429 when sign-in attempts are used up.</summary>
    public static async Task<Results<Created<TokenResponse>, ProblemHttpResult>> CreateTokenAsync(CredentialsRequest request, AccountService accounts, RateLimits limits, IOptions<GatewayOptions> options, HttpContext context)
    {
        if (!await limits.TrySignInAsync(request.Username, ClientAddress.KeyOf(context.Connection.RemoteIpAddress)))
        {
            return TooMany(context, limits);
        }

        var user = await accounts.VerifyAsync(request.Username, request.Password);
        if (user is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Wrong credentials", detail: "The user name or password is wrong.");
        }

        return TypedResults.Created((string?)null, new TokenResponse(await accounts.IssueTokenAsync(user), (long)options.Value.TokenLifetime.TotalSeconds));
    }

    /// <summary>Revokes the token the request carries: 204; it is refused everywhere from then on.</summary>
    public static async Task<NoContent> RevokeTokenAsync(AccountService accounts, System.Security.Claims.ClaimsPrincipal user)
    {
        await accounts.EndSessionAsync(user.Identity!.Name!, user.FindFirst(AccountService.SessionClaim)!.Value);
        return TypedResults.NoContent();
    }

    /// <summary>429 with Retry-After.</summary>
    internal static ProblemHttpResult TooMany(HttpContext context, RateLimits limits)
    {
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(limits.Window.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests", detail: "Slow down and try again later.");
    }
}
