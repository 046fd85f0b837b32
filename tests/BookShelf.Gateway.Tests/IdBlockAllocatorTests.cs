using BookShelf.Gateway.Posts;

namespace BookShelf.Gateway.Tests;

/// <summary>The id blocks of the post writers, without a cluster: the reservation is a plain function here.</summary>
public sealed class IdBlockAllocatorTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ReservationsThatCompleteAtOnceHandOutEveryIdOfEveryBlock()
    {
        // A reservation can finish before its task is stored (here: always). The allocator once kept such a
        // finished task and then spun forever on the next block, freezing its grain (seen in a CI run).
        var blocks = new Queue<long>([100, 200, 300]);
        var reservations = 0;
        var allocator = new IdBlockAllocator(size => { reservations++; return Task.FromResult(blocks.Dequeue()); }, size: 2);

        // On the thread pool, so that a spinning allocator fails the test instead of hanging it.
        var ids = await Task.Run(async () =>
        {
            var taken = new List<long>();
            for (var i = 0; i < 5; i++)
            {
                taken.Add(await allocator.NextAsync());
            }

            return taken;
        }).WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal([100, 101, 200, 201, 300], ids);
        Assert.Equal(3, reservations);
    }

    [Fact]
    public async Task FailedReservationFailsItsCallerAndTheNextCallReservesAgain()
    {
        var attempts = 0;
        var allocator = new IdBlockAllocator(
            size => ++attempts == 1 ? Task.FromException<long>(new TimeoutException("id block grain unreachable")) : Task.FromResult(40L),
            size: 10);

        await Assert.ThrowsAsync<TimeoutException>(() => allocator.NextAsync().AsTask().WaitAsync(Timeout, TestContext.Current.CancellationToken));
        var id = await allocator.NextAsync().AsTask().WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal(40, id);
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task CallersWaitingForABlockShareOneReservation()
    {
        // Continuations run on this thread, one after another, as they would in a grain.
        var reserved = new TaskCompletionSource<long>();
        var reservations = 0;
        var allocator = new IdBlockAllocator(size => { reservations++; return reserved.Task; }, size: 5);

        var waiting = new[] { allocator.NextAsync().AsTask(), allocator.NextAsync().AsTask(), allocator.NextAsync().AsTask() };
        Assert.All(waiting, t => Assert.False(t.IsCompleted));
        reserved.SetResult(10);
        var ids = await Task.WhenAll(waiting).WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal([10, 11, 12], ids.Order());
        Assert.Equal(1, reservations);
    }
}
