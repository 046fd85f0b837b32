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

    [Fact]
    public async Task AShorterBudgetOfItsOwnBoundsACall()
    {
        // The session check of an authenticated request gets one grain-call timeout, not the request's whole budget:
        // a call that never answers gives up after one attempt there, where the default budget would try again.
        var attempts = 0;
        var neverAnswers = new TaskCompletionSource<int>();
        var calls = new GrainCalls(
            Microsoft.Extensions.Options.Options.Create(new GatewayOptions { GrainCallTimeout = TimeSpan.FromMilliseconds(200), RequestRetryBudget = TimeSpan.FromSeconds(30) }),
            TimeProvider.System, NullLogger<GrainCalls>.Instance);
        await Assert.ThrowsAsync<TimeoutException>(() => calls.RunAsync(() =>
        {
            attempts++;
            return neverAnswers.Task;
        }, TestContext.Current.CancellationToken, budget: TimeSpan.FromMilliseconds(200)));
        Assert.Equal(1, attempts);
    }
}
