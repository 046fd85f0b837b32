using System.Threading.RateLimiting;
using BookShelf.Gateway.Options;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace BookShelf.Gateway.Posts;

/// <summary>
/// Sliding-window limits on sign-ups, sign-in attempts and writes, each per client address and per user (or per
/// gateway), counted in Redis so they hold across every gateway of the cluster: two gateways do not give a user
/// twice the limit. Each window of the clock has a count (one <c>INCR</c> of a key that lives two windows); a
/// request is granted when this window's count plus the previous window's, weighted by how much of it still lies
/// within one window of now, is within the limit. So a limit holds across the turn of a window (a plain fixed
/// window let twice the limit through there, and unlocked a locked-out name the moment the minute turned), and a
/// lockout fades over one window. The limits of one request are counted by one script in one round trip (a single
/// Redis primary: in Redis Cluster its keys would have to share a slot). Refused attempts count too. While Redis
/// cannot be reached, each gateway counts on its own (the framework's sliding <see cref="PartitionedRateLimiter"/>),
/// so the limits still hold per gateway. Every limit named must grant a permit.
/// </summary>
public sealed partial class RateLimits : IDisposable
{
    /// <summary>How long a count may take before this gateway counts on its own for that request.</summary>
    private static readonly TimeSpan CountTimeout = TimeSpan.FromMilliseconds(500);

    // KEYS are pairs (this window's key, the previous window's key), one per limit, narrowest first; ARGV: the keys'
    // lifetime (two windows, so this window's count is still there as the previous one), the previous window's
    // weight, then each limit. Counts each limit in turn and stops at the first that refuses, so a request one limit
    // refuses is not counted against the wider ones: one address cannot use up a user's allowance from everywhere.
    private const string Script = """
        local w = tonumber(ARGV[2])
        for i = 1, #KEYS, 2 do
          local n = redis.call('INCR', KEYS[i])
          if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
          local p = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
          if n + p * w > tonumber(ARGV[2 + (i + 1) / 2]) then return 0 end
        end
        return 1
        """;

    // The fallback's windows slide in this many steps.
    private const int LocalSegments = 6;

    private readonly IConnectionMultiplexer _redis;
    private readonly GatewayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RateLimits> _logger;
    private readonly string _prefix;
    private readonly PartitionedRateLimiter<(string Key, int Limit)> _local;

    /// <summary>Creates the limits from the gateway options.</summary>
    public RateLimits(IConnectionMultiplexer redis, IOptions<GatewayOptions> options, IConfiguration configuration, TimeProvider time, ILogger<RateLimits> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configuration);
        _redis = redis;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _prefix = $"{configuration["Orleans:ServiceId"] ?? "bookshelf"}:limits:";
        var window = _options.RateLimitWindow;
        _local = PartitionedRateLimiter.Create<(string Key, int Limit), string>(request => RateLimitPartition.GetSlidingWindowLimiter(
            request.Key, _ => new SlidingWindowRateLimiterOptions { PermitLimit = request.Limit, Window = window, SegmentsPerWindow = LocalSegments, QueueLimit = 0 }));
    }

    /// <summary>The window, for Retry-After.</summary>
    public TimeSpan Window => _options.RateLimitWindow;

    /// <summary>
    /// Takes a sign-in permit: per user name from this address (so an attacker elsewhere cannot lock the owner
    /// out), per address, and per user name from everywhere (a much higher backstop against a spread-out guess).
    /// An attempt refused by a narrower limit does not count against the wider ones.
    /// </summary>
    public async Task<bool> TrySignInAsync(string? user, string? address)
    {
        // Only a well-formed name becomes part of a key: a made-up 4 KiB "name" shares the key of every malformed one.
        var name = Accounts.AccountService.IsValidUserName(user) ? user!.ToLowerInvariant() : "";
        return await TakeAsync(
            ($"signin:u:{name}|{Address(address)}", _options.SignInPermitLimit),
            ("signin:a:" + Address(address), _options.SignInPermitLimitPerAddress),
            ("signin:e:" + name, _options.SignInPermitLimitPerUserEverywhere));
    }

    /// <summary>Takes a sign-up permit for this address and from the cluster's shared allowance.</summary>
    public Task<bool> TrySignUpAsync(string? address) =>
        TakeAsync(("signup:a:" + Address(address), _options.SignUpPermitLimitPerAddress), ("signup:all", _options.SignUpPermitLimit));

    /// <summary>Takes a write permit for this user and address; false when either is used up.</summary>
    public Task<bool> TryWriteAsync(string? user, string? address) =>
        TakeAsync(("write:a:" + Address(address), _options.WritePermitLimitPerAddress), ("write:u:" + (user ?? "").ToLowerInvariant(), _options.WritePermitLimit));

    /// <inheritdoc />
    public void Dispose() => _local.Dispose();

    private static string Address(string? address) => address ?? "unknown";

    /// <summary>Counts the request against every limit at once (one Redis round trip); true when each still grants it.</summary>
    private async Task<bool> TakeAsync(params (string Name, int Limit)[] limits)
    {
        var window = (long)_options.RateLimitWindow.TotalMilliseconds;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var current = now / window;
        // The share of the previous window that is still within one window of now.
        var previousWeight = 1.0 - ((double)(now % window) / window);
        // Never wait for a Redis that is down (a queued command would wait its whole timeout): count here meanwhile.
        if (_redis.IsConnected)
        {
            try
            {
                RedisKey[] keys = [.. limits.SelectMany(l => new RedisKey[] { $"{_prefix}{l.Name}:{current}", $"{_prefix}{l.Name}:{current - 1}" })];
                RedisValue[] args = [2 * window, previousWeight.ToString("R", System.Globalization.CultureInfo.InvariantCulture), .. limits.Select(l => (RedisValue)l.Limit)];
                var granted = (long)(await _redis.GetDatabase().ScriptEvaluateAsync(Script, keys, args).WaitAsync(CountTimeout, _time));
                return granted == 1;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogCountingLocally(_logger, ex);
            }
        }

        foreach (var (name, limit) in limits)
        {
            using var lease = _local.AttemptAcquire((name, limit));
            if (!lease.IsAcquired)
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(5201, LogLevel.Warning, "Rate limits: Redis did not answer; counting on this gateway alone for now")]
    private static partial void LogCountingLocally(ILogger logger, Exception exception);
}
