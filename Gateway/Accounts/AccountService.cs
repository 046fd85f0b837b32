using System.Text.RegularExpressions;
using BookShelf.Gateway.Options;
using BookShelf.Gateway.Posts;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Accounts;

/// <summary>
/// Sign-up, password checks and bearer tokens. Passwords are hashed with ASP.NET Core Identity's hasher
/// (PBKDF2) here on the gateway; the <see cref="IUserGrain"/> stores only the hash. Tokens are protected with
/// the data-protection key ring every gateway shares, so a token from one gateway works on all.
/// </summary>
public sealed partial class AccountService
{
    private readonly IGrainFactory _grains;
    private readonly GrainCalls _calls;
    private readonly IOptions<GatewayOptions> _options;
    private readonly TimeProvider _time;
    private readonly SessionLeaseCache _sessions;

    /// <summary>One token protector serves both issuing and reading tokens.</summary>
    public AccountService(IGrainFactory grains, GrainCalls calls, IDataProtectionProvider protection, IOptions<GatewayOptions> options, TimeProvider time, SessionLeaseCache sessions)
    {
        _sessions = sessions;
        _grains = grains;
        _calls = calls;
        _options = options;
        _time = time;
        _tokens = protection.CreateProtector("BookShelf.Tokens.v1").ToTimeLimitedDataProtector();
        _reader = new TokenReader(_tokens, time);
    }

    /// <summary>Shortest accepted password.</summary>
    public const int MinPasswordLength = 8;

    private static readonly PasswordHasher<Account> Hasher = new();

    /// <summary>A hash no password matches: checked for unknown users, so they take as long as wrong passwords.</summary>
    private static readonly string DecoyHash = Hasher.HashPassword(new Account("decoy"), Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)));

    private readonly ITimeLimitedDataProtector _tokens;

    private readonly TokenReader _reader;

    /// <summary>PBKDF2 runs at most this many at once (one per core): a flood of sign-ups or sign-ins queues, briefly, instead of taking every core.</summary>
    private readonly SemaphoreSlim _hashing = new(Environment.ProcessorCount, Environment.ProcessorCount);

    /// <summary>Checks a sign-up; returns field errors (empty when valid).</summary>
    public static Dictionary<string, string[]> ValidateSignUp(string? username, string? password)
    {
        var errors = new Dictionary<string, string[]>();
        if (username is null || !UserNamePattern().IsMatch(username))
        {
            errors["username"] = [$"Use 3 to {PostRules.MaxUserNameLength} letters, digits or underscores."];
        }

        if (password is null || password.Length < MinPasswordLength || password.Length > 256)
        {
            errors["password"] = [$"Use {MinPasswordLength} to 256 characters."];
        }

        return errors;
    }

    /// <summary>
    /// Creates the account; false when the name is taken (checked before the password is hashed, and again, atomically,
    /// when it is stored). Throws <see cref="TimeoutException"/> when hashing is too busy (answered 503).
    /// </summary>
    public async Task<bool> RegisterAsync(string username, string password)
    {
        var user = _grains.GetGrain<IUserGrain>(Key(username));
        if (await user.GetCredentialsAsync() is not null)
        {
            return false;
        }

        var hash = await HashAsync(() => Hasher.HashPassword(new Account(username), password));
        return await user.RegisterAsync(username, hash);
    }

    /// <summary>The account's display name when the password is right, else null.</summary>
    public async Task<string?> VerifyAsync(string? username, string? password)
    {
        if (username is null || password is null || password.Length > 256 || !UserNamePattern().IsMatch(username))
        {
            return null;
        }

        var user = _grains.GetGrain<IUserGrain>(Key(username));
        var credentials = await user.GetCredentialsAsync();
        if (credentials is null)
        {
            // Same work as a wrong password: the answer's timing does not tell whether the user exists.
            await HashAsync(() => Hasher.VerifyHashedPassword(new Account("decoy"), DecoyHash, password));
            return null;
        }

        var account = new Account(credentials.DisplayName);
        switch (await HashAsync(() => Hasher.VerifyHashedPassword(account, credentials.PasswordHash, password)))
        {
            case PasswordVerificationResult.Success:
                return credentials.DisplayName;
            case PasswordVerificationResult.SuccessRehashNeeded:
                await user.UpdatePasswordHashAsync(Hasher.HashPassword(account, password));
                return credentials.DisplayName;
            default:
                return null;
        }
    }

    /// <summary>The claim that names a sign-in's session (cookies and tokens carry it).</summary>
    public const string SessionClaim = "bookshelf:sid";

    /// <summary>How long a cookie sign-in's session is recorded (the cookie itself slides within it).</summary>
    public static readonly TimeSpan CookieSessionLifetime = TimeSpan.FromDays(30);

    /// <summary>Records a new session for <paramref name="username"/>; returns its id.</summary>
    public async Task<string> StartSessionAsync(string username, TimeSpan lifetime)
    {
        var id = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        await _grains.GetGrain<IUserGrain>(Key(username)).StartSessionAsync(id, _time.GetUtcNow() + lifetime);
        return id;
    }

    /// <summary>
    /// Whether a session is still signed in (not signed out, not revoked, not expired). Every authenticated request
    /// asks, so a failure of the cluster is retried like any read (one lost answer is not a failed request), but
    /// only within one <see cref="GatewayOptions.GrainCallTimeout"/>: the request's own work gets its full budget.
    /// When the cluster does not answer, throws <see cref="SignInCheckUnavailableException"/>: the request has not run.
    /// A session the user's grain confirmed is then accepted here under its lease (<see cref="SessionLeaseCache"/>).
    /// </summary>
    public async Task<bool> IsSessionActiveAsync(string username, string sessionId, CancellationToken cancellationToken = default)
    {
        var user = Key(username);
        if (_sessions.IsLeased(user, sessionId))
        {
            return true;
        }

        try
        {
            return await _sessions.CheckAsync(user, sessionId, holder => _calls.RunAsync(
                () => holder is null
                    ? AskWithoutLeaseAsync(user, sessionId)
                    : _grains.GetGrain<IUserGrain>(user).CheckSessionAsync(sessionId, holder),
                cancellationToken,
                _options.Value.GrainCallTimeout));
        }
        catch (Exception ex) when (GrainCalls.IsClusterFailure(ex) && !cancellationToken.IsCancellationRequested)
        {
            throw new SignInCheckUnavailableException(ex);
        }
    }

    private async Task<SessionLease> AskWithoutLeaseAsync(string user, string sessionId) =>
        await _grains.GetGrain<IUserGrain>(user).IsSessionActiveAsync(sessionId) ? new SessionLease(true, TimeSpan.Zero) : SessionLease.Inactive;

    /// <summary>Ends a session: its cookie or token stops working on every gateway (the grain makes every gateway holding a lease on it forget it first).</summary>
    public Task EndSessionAsync(string username, string sessionId) =>
        _grains.GetGrain<IUserGrain>(Key(username)).EndSessionAsync(sessionId);

    /// <summary>A bearer token for <paramref name="username"/>, valid for the configured lifetime, in a session of its own.</summary>
    public async Task<string> IssueTokenAsync(string username)
    {
        var lifetime = _options.Value.TokenLifetime;
        var session = await StartSessionAsync(username, lifetime);
        return _tokens.Protect(username + "\n" + session, lifetime);
    }

    /// <summary>The user and session a token was issued for, or null when it is malformed, forged or expired (revocation is checked by the caller).</summary>
    public (string User, string Session)? ReadToken(string token) => _reader.Read(token);

    private static string Key(string username) => username.ToLowerInvariant();

    private async Task<T> HashAsync<T>(Func<T> work)
    {
        if (!await _hashing.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            throw new TimeoutException("Too many sign-ups and sign-ins at once.");
        }

        try
        {
            return work();
        }
        finally
        {
            _hashing.Release();
        }
    }

    /// <summary>Whether <paramref name="username"/> has the form of a user name (checked before it is used for anything).</summary>
    public static bool IsValidUserName(string? username) => username is not null && UserNamePattern().IsMatch(username);

    [GeneratedRegex("^[A-Za-z0-9_]{3,32}$")]
    private static partial Regex UserNamePattern();

    /// <summary>The hasher's user type.</summary>
    public sealed record Account(string Name);
}
