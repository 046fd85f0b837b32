using BookShelf.Gateway.Options;
using BookShelf.Gateway.Posts;
using BookShelf.Grains.Interfaces;
using Microsoft.Extensions.Logging.Abstractions;

namespace BookShelf.Gateway.Tests;

/// <summary>A request's grain call rides out cluster failures within its budget, and never retries a grain's own answer.</summary>
public sealed class GrainCallsTests
{
    private static GrainCalls Calls(TimeSpan budget) => new(
        Microsoft.Extensions.Options.Options.Create(new GatewayOptions { GrainCallTimeout = TimeSpan.FromSeconds(2), RequestRetryBudget = budget }),
        TimeProvider.System, NullLogger<GrainCalls>.Instance);

    [Fact]
    public async Task CallThatFailedBecauseTheClusterDidIsTriedAgain()
    {
        var attempts = 0;
        var result = await Calls(TimeSpan.FromSeconds(10)).RunAsync(() => ++attempts < 3
            ? Task.FromException<int>(new Orleans.Runtime.SiloUnavailableException("silo died"))
            : Task.FromResult(42), TestContext.Current.CancellationToken);
        Assert.Equal(42, result);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task GrainsOwnAnswerIsFinal()
    {
        var attempts = 0;
        await Assert.ThrowsAsync<BookShelfValidationException>(() => Calls(TimeSpan.FromSeconds(10)).RunAsync<int>(() =>
        {
            attempts++;
            throw new BookShelfValidationException("title", "bad");
        }, TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<IdempotencyKeyReusedException>(() => Calls(TimeSpan.FromSeconds(10)).RunAsync<int>(() =>
        {
            attempts++;
            throw new IdempotencyKeyReusedException("used");
        }, TestContext.Current.CancellationToken));
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task FailureOutlastingTheBudgetIsThrown()
    {
        var attempts = 0;
        await Assert.ThrowsAsync<TimeoutException>(() => Calls(TimeSpan.FromMilliseconds(400)).RunAsync<int>(() =>
        {
            attempts++;
            throw new TimeoutException("no answer");
        }, TestContext.Current.CancellationToken));
        Assert.InRange(attempts, 2, 10);
    }
}
