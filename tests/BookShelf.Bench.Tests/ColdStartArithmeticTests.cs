namespace BookShelf.Bench.Tests;

/// <summary>
/// The cold-start bench's arithmetic (<see cref="ColdStartRunner"/>): each period's 5 s windows and warm p99 come from
/// its own posts only, and "steady" is the first second from which every later window stays within the bound.
/// </summary>
public sealed class ColdStartArithmeticTests
{
    // Two 30 s periods, a post every 0.1 s taking 1 ms, but one of 40 ms sent at 12.35 s.
    private static readonly List<(double At, long Micros)> Samples =
        [.. Enumerable.Range(0, 600).Select(i => (At: (i * 0.1) + 0.05, Micros: i == 123 ? 40_000L : 1_000L))];

    [Fact]
    public void EveryWindowHoldingTheSlowPostHasItAsItsP99()
    {
        var (warm, windows) = ColdStartRunner.Windows(Samples, 0, 30);

        // A window holds 50 posts: its p99 is its slowest. The slow post is in the windows starting at 8 to 12 s.
        Assert.Equal(Enumerable.Range(0, 30).Select(s => s is >= 8 and <= 12 ? 40.0 : 1.0), windows);
        // The warm p99 (the last 20 s, 200 posts) is the 198th slowest: 1 ms, though the slow post is among them.
        Assert.Equal(1.0, warm);
        Assert.Equal(13, ColdStartRunner.SteadyFrom(windows, limit: 1.5, length: 30));
        Assert.Equal(0, ColdStartRunner.SteadyFrom(windows, limit: 40, length: 30));
    }

    [Fact]
    public void TheControlPeriodIsReadFromItsOwnPostsOnly()
    {
        var (warm, windows) = ColdStartRunner.Windows(Samples, 30, 30);

        Assert.Equal(1.0, warm);
        Assert.All(windows, w => Assert.Equal(1.0, w));
        Assert.Equal(0, ColdStartRunner.SteadyFrom(windows, limit: 1.5, length: 30));
    }

    [Fact]
    public void APeriodWhoseLastWindowIsAboveTheBoundIsNotSteady()
    {
        // Windows starting after length - 5 reach past the period's end and are not judged; the last judged one is.
        double[] windows = [.. Enumerable.Repeat(1.0, 30)];
        windows[25] = 40;
        Assert.Equal(-1, ColdStartRunner.SteadyFrom(windows, limit: 1.5, length: 30));
        windows[25] = 1;
        windows[26] = 40;
        Assert.Equal(0, ColdStartRunner.SteadyFrom(windows, limit: 1.5, length: 30));
    }
}
