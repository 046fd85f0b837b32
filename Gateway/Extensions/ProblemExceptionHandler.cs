using Microsoft.AspNetCore.Diagnostics;

namespace BookShelf.Gateway.Extensions;

/// <summary>
/// Turns grain errors into RFC 9457 problem details: bad input 400, unknown post 404, and a cluster or storage
/// that cannot answer in time 503 (fail fast; the client may retry). Nothing else leaks details.
/// </summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    /// <inheritdoc />
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail, errors) = exception switch
        {
            BookShelfValidationException v => (StatusCodes.Status400BadRequest, "Invalid input", v.Message, new Dictionary<string, string[]> { [v.Field] = [v.Message] }),
            BookShelfNotFoundException n => (StatusCodes.Status404NotFound, "Not found", n.Message, null),
            BadHttpRequestException b => (b.StatusCode, "Bad request", "The request body is not valid JSON of the expected shape.", null),
            _ => (StatusCodes.Status503ServiceUnavailable, "Service unavailable", "BookShelf could not complete this right now; nothing was changed unless you are told otherwise. Try again.", (Dictionary<string, string[]>?)null),
        };
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            LogUnavailable(logger, exception, httpContext.Request.Path);
            httpContext.Response.Headers.RetryAfter = "1";
        }

        httpContext.Response.StatusCode = status;
        var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail };
        if (errors is not null)
        {
            problem.Extensions["errors"] = errors;
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    [LoggerMessage(5001, LogLevel.Warning, "Request to {Path} failed: the cluster did not answer")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, string path);
}
