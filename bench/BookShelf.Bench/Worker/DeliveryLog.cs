namespace BookShelf.Bench.Worker;

/// <summary>
/// Every delivery this worker saw: connection, post id, arrival time (<see cref="System.Diagnostics.Stopwatch"/>
/// ticks, which are the same clock in every process on the machine). Appending is one interlocked increment
/// and three stores, from any thread; analysis happens after the run.
/// </summary>
public sealed class DeliveryLog
{
    private const int ChunkBits = 16;
    private const int ChunkSize = 1 << ChunkBits;
    private readonly Lock _grow = new();
    private Record[]?[] _chunks = new Record[]?[64];
    private long _count;

    /// <summary>Deliveries recorded so far.</summary>
    public long Count => Math.Min(Volatile.Read(ref _count), (long)_chunks.Length * ChunkSize);

    /// <summary>Records one delivery.</summary>
    public void Add(int connection, long postId, long timestamp)
    {
        var index = Interlocked.Increment(ref _count) - 1;
        var chunk = (int)(index >> ChunkBits);
        var chunks = Volatile.Read(ref _chunks);
        if (chunk >= chunks.Length || chunks[chunk] is null)
        {
            chunks = Grow(chunk);
        }

        chunks[chunk]![index & (ChunkSize - 1)] = new Record(connection, postId, timestamp);
    }

    /// <summary>Forgets everything (after a warm-up).</summary>
    public void Clear()
    {
        lock (_grow)
        {
            _chunks = new Record[]?[64];
            Volatile.Write(ref _count, 0);
        }
    }

    /// <summary>Every record so far (call when no more are being added).</summary>
    public IEnumerable<Record> Records()
    {
        var count = Count;
        for (long i = 0; i < count; i++)
        {
            var chunk = _chunks[i >> ChunkBits];
            if (chunk is not null)
            {
                yield return chunk[i & (ChunkSize - 1)];
            }
        }
    }

    private Record[]?[] Grow(int chunk)
    {
        lock (_grow)
        {
            var chunks = _chunks;
            if (chunk >= chunks.Length)
            {
                var bigger = new Record[]?[Math.Max(chunks.Length * 2, chunk + 1)];
                Array.Copy(chunks, bigger, chunks.Length);
                chunks = bigger;
            }

            chunks[chunk] ??= new Record[ChunkSize];
            Volatile.Write(ref _chunks, chunks);
            return chunks;
        }
    }

    /// <summary>One delivery.</summary>
    public readonly record struct Record(int Connection, long PostId, long Timestamp);
}
