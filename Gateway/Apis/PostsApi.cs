using System.Security.Claims;
using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BookShelf.Gateway.Apis;

/// <summary><c>/api/posts</c>: create, list, read; likes and comments. Writes need a signed-in user.</summary>
public static class PostsApi
{
    /// <summary>Maps the post endpoints.</summary>
    public static IEndpointRouteBuilder MapPostsApi(this IEndpointRouteBuilder app)
    {
        var posts = app.MapGroup("/api/posts");
        posts.MapGet("/", ListPostsAsync);
        posts.MapGet("/{id:long}", GetPostAsync);
        posts.MapGet("/{id:long}/comments", GetCommentsAsync);
        posts.MapGet("/{id:long}/presence", GetPresenceAsync);
        app.MapGet("/api/presence", GetOnlineAsync);
        posts.MapPost("/", CreatePostAsync).RequireAuthorization(Extensions.GatewayHostingExtensions.ApiWritePolicy);
        posts.MapPost("/{id:long}/comments", AddCommentAsync).RequireAuthorization(Extensions.GatewayHostingExtensions.ApiWritePolicy);
        posts.MapPost("/{id:long}/likes", ToggleLikeAsync).RequireAuthorization(Extensions.GatewayHostingExtensions.ApiWritePolicy);
        return app;
    }

    /// <summary>Newest first; <c>before</c> is the <c>next_before</c> of the previous page.</summary>
    public static async Task<Results<Ok<PostPage>, ValidationProblem>> ListPostsAsync(PostService posts, long? before, int? limit)
    {
        if (before < 0 || limit is < 1 or > PostService.MaxPageSize)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [before < 0 ? "before" : "limit"] = [before < 0 ? "before must be a seq from a previous page." : $"limit is 1 to {PostService.MaxPageSize}."],
            });
        }

        return TypedResults.Ok(await posts.ListAsync(before ?? 0, limit ?? 20));
    }

    /// <summary>One post, or 404.</summary>
    public static async Task<Results<Ok<PostDetails>, ProblemHttpResult>> GetPostAsync(long id, PostService posts) =>
        await posts.GetAsync(id) is { } post ? TypedResults.Ok(post) : NotFound(id);

    /// <summary>How many connections have the post's group open across the cluster now, or 404.</summary>
    public static async Task<Results<Ok<PresenceCount>, ProblemHttpResult>> GetPresenceAsync(long id, Feed.KnownGroups known, Presence.PresenceTracker presence) =>
        id > 0 && await known.ExistsAsync(Groups.ForPost(id)) ? TypedResults.Ok(new PresenceCount(await presence.CountAsync(Groups.ForPost(id)))) : NotFound(id);

    /// <summary>How many connections are in the site group (every page of the blog) across the cluster now.</summary>
    public static async Task<Ok<PresenceCount>> GetOnlineAsync(Presence.PresenceTracker presence) =>
        TypedResults.Ok(new PresenceCount(await presence.CountAsync(Groups.Site)));

    /// <summary>A page of a post's comments, oldest first (<c>after</c> a comment id, <c>limit</c> up to 100; a <c>Link: rel="next"</c> header when more may follow), or 404.</summary>
    public static async Task<Results<Ok<IReadOnlyList<CommentDetails>>, ValidationProblem, ProblemHttpResult>> GetCommentsAsync(long id, PostService posts, HttpContext context, long? after, int? limit)
    {
        if (after < 0 || limit is < 1 or > PostRules.MaxCommentsPerRead)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [after < 0 ? "after" : "limit"] = [after < 0 ? "after is a comment id." : $"limit is 1 to {PostRules.MaxCommentsPerRead}."],
            });
        }

        var size = limit ?? PostRules.MaxCommentsPerRead;
        if (await posts.GetCommentsAsync(id, after ?? 0, size) is not { } comments)
        {
            return NotFound(id);
        }

        if (comments.Count == size)
        {
            // More may follow: RFC 8288 link to the next page.
            context.Response.Headers.Link = $"</api/posts/{id}/comments?after={comments[^1].Id}&limit={size}>; rel=\"next\"";
        }

        return TypedResults.Ok(comments);
    }

    /// <summary>
    /// Creates a post: 201 with the post once it is stored and announced. With an <c>Idempotency-Key</c>, a
    /// repeat returns the first 201 and body; the same key with another draft is 422.
    /// </summary>
    public static async Task<Results<Created<PostDetails>, ValidationProblem, ProblemHttpResult>> CreatePostAsync(PostRequest request, PostService posts, RateLimits limits, HttpContext context, ClaimsPrincipal user)
    {
        var errors = Validate(("title", request.Title, PostRules.MaxTitleLength), ("body", request.Body, PostRules.MaxBodyLength));
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        if (!IdempotencyKey.TryRead(context.Request, null, out var key, out var keyError))
        {
            return KeyProblem(keyError!);
        }

        if (!await limits.TryWriteAsync(user.Identity!.Name, ClientAddress.KeyOf(context.Connection.RemoteIpAddress)))
        {
            return AccountsApi.TooMany(context, limits);
        }

        var post = await posts.CreateAsync(user.Identity.Name!, request.Title!, request.Body!, key);
        return TypedResults.Created($"/api/posts/{post.Id}", post);
    }

    /// <summary>Adds a comment: 201, 400, 404; <c>Idempotency-Key</c> as for posts.</summary>
    public static async Task<Results<Created<CommentDetails>, ValidationProblem, ProblemHttpResult>> AddCommentAsync(long id, CommentRequest request, PostService posts, RateLimits limits, HttpContext context, ClaimsPrincipal user)
    {
        var errors = Validate(("text", request.Text, PostRules.MaxCommentLength));
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        if (!IdempotencyKey.TryRead(context.Request, null, out var key, out var keyError))
        {
            return KeyProblem(keyError!);
        }

        if (!await limits.TryWriteAsync(user.Identity!.Name, ClientAddress.KeyOf(context.Connection.RemoteIpAddress)))
        {
            return AccountsApi.TooMany(context, limits);
        }

        var comment = await posts.CommentAsync(id, user.Identity.Name!, request.Text!, key);
        return TypedResults.Created($"/api/posts/{id}/comments/{comment.Id}", comment);
    }

    /// <summary>
    /// Likes the post, or takes the like back: 200 with the new state, 404. A repeat of the user's last toggle
    /// with the same <c>Idempotency-Key</c> returns the same answer and toggles nothing.
    /// </summary>
    public static async Task<Results<Ok<LikeResult>, ValidationProblem, ProblemHttpResult>> ToggleLikeAsync(long id, PostService posts, RateLimits limits, HttpContext context, ClaimsPrincipal user)
    {
        if (!IdempotencyKey.TryRead(context.Request, null, out var key, out var keyError))
        {
            return KeyProblem(keyError!);
        }

        if (!await limits.TryWriteAsync(user.Identity!.Name, ClientAddress.KeyOf(context.Connection.RemoteIpAddress)))
        {
            return AccountsApi.TooMany(context, limits);
        }

        return TypedResults.Ok(await posts.ToggleLikeAsync(id, user.Identity.Name!, key));
    }

    private static ValidationProblem KeyProblem(string error) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [IdempotencyKey.Header] = [error] });

    private static Dictionary<string, string[]> Validate(params (string Field, string? Value, int Max)[] fields)
    {
        var errors = new Dictionary<string, string[]>();
        foreach (var (field, value, max) in fields)
        {
            if (PostRules.CheckText(field, value, max) is { } error)
            {
                errors[field] = [error.Message];
            }
        }

        return errors;
    }

    private static ProblemHttpResult NotFound(long id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"There is no post {id}.");
}
