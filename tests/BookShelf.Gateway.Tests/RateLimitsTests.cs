using BookShelf.Gateway.Options;
using BookShelf.Gateway.Posts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace BookShelf.Gateway.Tests;

/// <summary>
/// The limits counted in the cluster's real Redis, on a clock the test moves: a limit holds across the edge of a
/// window (a fixed window aligned to the clock let an attacker through twice the limit there, and unlocked a
/// locked-out name the moment the minute turned; it failed a test in CI whose attempts straddled a minute).
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class RateLimitsTests(GatewayFixture fixture)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task ALimitReachedJustBeforeTheWindowTurnsStillHoldsJustAfter()
    {
        var clock = new FakeTimeProvider(StartOfAWindow() + Window - TimeSpan.FromMilliseconds(5));
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.System.RedisConnection);
        using var limits = LimitsOf(redis, clock, signInLimit: 5);

        for (var i = 0; i < 5; i++)
        {
            Assert.True(await limits.TrySignInAsync("edge", "127.0.0.70"), $"attempt {i + 1} is within the limit");
        }

        clock.Advance(TimeSpan.FromMilliseconds(10)); // into the next window
        Assert.False(await limits.TrySignInAsync("edge", "127.0.0.70"), "the sixth attempt, 10 ms later, must still be refused");
        Assert.True(await limits.TrySignInAsync("edge", "127.0.0.71"), "the same name from another address has its own count");
    }

    [Fact]
    public async Task ALockoutFadesAsTheWindowSlidesAndEndsAfterAWholeWindow()
    {
        var clock = new FakeTimeProvider(StartOfAWindow() + TimeSpan.FromSeconds(1));
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.System.RedisConnection);
        using var limits = LimitsOf(redis, clock, signInLimit: 4);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(await limits.TrySignInAsync("fade", "127.0.0.72"));
        }

        Assert.False(await limits.TrySignInAsync("fade", "127.0.0.72"));
        // Half a window on, about half of the old attempts still count (5 x 0.48 = 2.4), so one more (3.4) is let in and
        // a second (4.4) is not.
        clock.Advance(Window * 1.5);
        Assert.True(await limits.TrySignInAsync("fade", "127.0.0.72"));
        Assert.False(await limits.TrySignInAsync("fade", "127.0.0.72"));
        clock.Advance(Window * 2);
        Assert.True(await limits.TrySignInAsync("fade", "127.0.0.72"), "two windows later nothing old counts");
    }

    [Fact]
    public async Task AttemptsOneAddressWasRefusedDoNotUseUpTheNamesAllowanceFromEverywhere()
    {
        var clock = new FakeTimeProvider(StartOfAWindow() + TimeSpan.FromSeconds(1));
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.System.RedisConnection);
        using var limits = LimitsOf(redis, clock, signInLimit: 2, everywhere: 5);
        var fromAttacker = new List<bool>();
        for (var i = 0; i < 10; i++)
        {
            fromAttacker.Add(await limits.TrySignInAsync("target", "127.0.0.73"));
        }

        Assert.Equal([true, true, false, false, false, false, false, false, false, false], fromAttacker);
        // Before, the eight refused attempts counted everywhere too (10 > 5): the owner was locked out from every address.
        Assert.True(await limits.TrySignInAsync("target", "127.0.0.74"), "the owner elsewhere was locked out by one address's refused attempts");
    }

    private static DateTimeOffset StartOfAWindow()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var window = (long)Window.TotalMilliseconds;
        return DateTimeOffset.FromUnixTimeMilliseconds((now / window) * window);
    }

    private static RateLimits LimitsOf(IConnectionMultiplexer redis, TimeProvider clock, int signInLimit, int everywhere = 1000)
    {
        var options = new GatewayOptions
        {
            RateLimitWindow = Window,
            SignInPermitLimit = signInLimit,
            SignInPermitLimitPerAddress = 1000,
            SignInPermitLimitPerUserEverywhere = everywhere,
        };
        // A service id of its own: no other test's counts share these keys.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("Orleans:ServiceId", "limits-" + Guid.NewGuid().ToString("N"))]).Build();
        return new RateLimits(redis, Microsoft.Extensions.Options.Options.Create(options), configuration, clock, NullLogger<RateLimits>.Instance);
    }
}
