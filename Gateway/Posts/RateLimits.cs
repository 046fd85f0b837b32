using System.Threading.RateLimiting;
using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// Fixed-window limits on sign-in attempts and writes, each per user and per client address, built on the
/// framework's <see cref="PartitionedRateLimiter"/>. Both limits must grant a permit.
/// </summary>
public sealed class RateLimits : IDisposable
{
    private readonly PartitionedRateLimiter<string> _signIn;
    private readonly PartitionedRateLimiter<string> _signInPerUser;
    private readonly PartitionedRateLimiter<string> _signUp;
    private readonly PartitionedRateLimiter<string> _writes;

    /// <summary>Creates the limiters from the gateway options.</summary>
    public RateLimits(IOptions<GatewayOptions> options)
    {
        var o = options.Value;
        _signIn = Create(o.SignInPermitLimit, o.SignInPermitLimitPerAddress, o.RateLimitWindow);
        _signInPerUser = Create(o.SignInPermitLimitPerUserEverywhere, o.SignInPermitLimitPerUserEverywhere, o.RateLimitWindow);
        _signUp = Create(o.SignUpPermitLimit, o.SignUpPermitLimitPerAddress, o.RateLimitWindow);
        _writes = Create(o.WritePermitLimit, o.WritePermitLimitPerAddress, o.RateLimitWindow);
        Window = o.RateLimitWindow;
    }

    /// <summary>The window, for Retry-After.</summary>
    public TimeSpan Window { get; }

    /// <summary>
    /// Takes a sign-in permit: per address, per user name from this address (so an attacker elsewhere cannot lock
    /// the owner out), and per user name from everywhere (a much higher backstop against a spread-out guess).
    /// </summary>
    public bool TrySignIn(string? user, string? address)
    {
        if (!Acquire(_signIn, (user ?? "") + "|" + (address ?? "unknown"), address))
        {
            return false;
        }

        using var everywhere = _signInPerUser.AttemptAcquire("u:" + (user ?? "").ToLowerInvariant());
        return everywhere.IsAcquired;
    }

    /// <summary>Takes a sign-up permit for this address and from the gateway's shared allowance ("u:" is everyone).</summary>
    public bool TrySignUp(string? address) => Acquire(_signUp, null, address);

    /// <summary>Takes a write permit for this user and address; false when either is used up.</summary>
    public bool TryWrite(string? user, string? address) => Acquire(_writes, user, address);

    /// <inheritdoc />
    public void Dispose()
    {
        _signIn.Dispose();
        _signInPerUser.Dispose();
        _signUp.Dispose();
        _writes.Dispose();
    }

    private static bool Acquire(PartitionedRateLimiter<string> limiter, string? user, string? address)
    {
        using var byAddress = limiter.AttemptAcquire("a:" + (address ?? "unknown"));
        if (!byAddress.IsAcquired)
        {
            return false;
        }

        using var byUser = limiter.AttemptAcquire("u:" + (user ?? "").ToLowerInvariant());
        return byUser.IsAcquired;
    }

    private static PartitionedRateLimiter<string> Create(int perUser, int perAddress, TimeSpan window) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, k => new FixedWindowRateLimiterOptions
        {
            PermitLimit = k.StartsWith("a:", StringComparison.Ordinal) ? perAddress : perUser,
            Window = window,
            QueueLimit = 0,
        }));
}
