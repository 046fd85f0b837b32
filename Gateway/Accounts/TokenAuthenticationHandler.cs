using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Accounts;

/// <summary>Authenticates <c>Authorization: Bearer &lt;token&gt;</c> requests with tokens from <c>POST /api/tokens</c>.</summary>
public sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AccountService accounts) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "Bearer";

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        if (accounts.ReadToken(header["Bearer ".Length..].Trim()) is not var (user, session))
        {
            return AuthenticateResult.Fail("The token is invalid or expired.");
        }

        if (!await accounts.IsSessionActiveAsync(user, session, Context.RequestAborted))
        {
            return AuthenticateResult.Fail("The token was revoked.");
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user), new Claim(AccountService.SessionClaim, session)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    /// <inheritdoc />
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = SchemeName;
        return Context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = StatusCodes.Status401Unauthorized, Title = "Sign in required", Detail = "API writes need 'Authorization: Bearer <token>' (POST /api/tokens). Browsers write through the pages' forms." },
        }).AsTask();
    }
}
