namespace BookShelf.Gateway.Apis;

/// <summary>Body of <c>POST /api/accounts</c> and <c>POST /api/tokens</c>.</summary>
public sealed record CredentialsRequest(string? Username, string? Password);

/// <summary>Body of <c>POST /api/posts</c>.</summary>
public sealed record PostRequest(string? Title, string? Body);

/// <summary>Body of <c>POST /api/posts/{id}/comments</c>.</summary>
public sealed record CommentRequest(string? Text);

/// <summary>Answer of <c>POST /api/accounts</c>.</summary>
public sealed record AccountResponse(string Username);

/// <summary>Answer of <c>POST /api/tokens</c>.</summary>
public sealed record TokenResponse(string Token, long ExpiresIn);

/// <summary>A group's presence: <c>{"count":3}</c>.</summary>
public sealed record PresenceCount(int Count);
