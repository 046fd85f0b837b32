using Microsoft.AspNetCore.Diagnostics;

namespace BookShelf.Gateway.Extensions;

/// <summary>
/// Turns grain errors into RFC 9457 problem details: bad input 400, unknown post 404, a reused
/// <c>Idempotency-Key</c> 422, and a cluster or storage that did not answer within the retry budget 503 (whose
/// text says truthfully whether the outcome is unknown: a request whose sign-in could not be checked never ran). Nothing else leaks details.
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
            IdempotencyKeyReusedException r => (StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused", r.Message + " Nothing was changed; use a new key for a new request.", null),
            Accounts.SignInCheckUnavailableException => (StatusCodes.Status503ServiceUnavailable, "Service unavailable", "BookShelf could not check your sign-in right now, so it did not carry out this request; nothing was changed. Try again.", null),
            BadHttpRequestException b => (b.StatusCode, "Bad request", "The request body is not valid JSON of the expected shape.", null),
            _ => (StatusCodes.Status503ServiceUnavailable, "Service unavailable", UnavailableDetail(httpContext.Request), (Dictionary<string, string[]>?)null),
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

    /// <summary>
    /// What a 503 can truthfully say. A read changed nothing. A write may have been carried out: the cluster did
    /// not confirm it in time. Every write is idempotent by its key, so repeating it with the same key is safe.
    /// </summary>
    private static string UnavailableDetail(HttpRequest request) =>
        HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)
            ? "BookShelf could not answer this right now; nothing was changed. Try again."
            : request.Headers.ContainsKey(Apis.IdempotencyKey.Header)
                ? "The outcome is unknown: BookShelf could not confirm this write in time, and it may still take effect. Retrying with the same Idempotency-Key is safe: it returns the first result and never writes twice."
                : "The outcome is unknown: BookShelf could not confirm this write in time, and it may still take effect. Check before retrying, or send an Idempotency-Key so that a retry is always safe.";

    [LoggerMessage(5001, LogLevel.Warning, "Request to {Path} failed: the cluster did not answer")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, string path);
}
