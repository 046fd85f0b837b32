namespace BookShelf.Grains.Accounts;

/// <summary>
/// One account, keyed by the lower-cased user name. Every authenticated request checks its session here, so each
/// gateway node may accept a checked session for <see cref="AccountsOptions.SessionLease"/> without asking again;
/// ending a session first makes every node holding a lease forget it (or outlasts the lease of a node that does not
/// answer). The leases are kept in memory only; the stored <see cref="UserState.LeasesOutstanding"/> says whether an
/// earlier activation may have left some running (it ended without a clean goodbye, or within a lease of granting
/// one). Then, for one lease from its start, an activation treats a session it did not start as possibly leased, and
/// waits out that lease before acknowledging its end.
/// </summary>
public sealed partial class UserGrain(
    [PersistentState("user", StorageNames.Users)] IPersistentState<UserState> state,
    TimeProvider time,
    IOptions<AccountsOptions> options,
    ILogger<UserGrain> logger) : Grain, IUserGrain
{
    /// <summary>Most sessions one account keeps; the oldest-expiring go first.</summary>
    private const int MaxSessions = 100;

    /// <summary>Added to every wait for a lease to run out: timers may fire a tick early, and clocks are read in different places.</summary>
    private static readonly TimeSpan TimerMargin = TimeSpan.FromMilliseconds(50);

    private readonly SessionLeases _leases = new();
    private readonly HashSet<string> _startedHere = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _activated = time.GetUtcNow();
    private bool _predecessorMayHaveLeases;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _predecessorMayHaveLeases = state.State.LeasesOutstanding;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!state.State.LeasesOutstanding || _leases.AnyRunning(now) || (_predecessorMayHaveLeases && now < _activated + options.Value.SessionLease + TimerMargin))
        {
            return;
        }

        // Every lease granted here has run out (an idle activation is collected long after its last one): the next
        // activation need not wait for any.
        state.State.LeasesOutstanding = false;
        try
        {
            await state.WriteStateAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Left set in storage: the next activation waits one lease in the rare sign-out of its first seconds.
            LogLeasesMarkNotCleared(logger, ex.Message);
        }
    }

    /// <inheritdoc />
    public async Task<bool> RegisterAsync(string displayName, string passwordHash)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(displayName);
        ArgumentException.ThrowIfNullOrWhiteSpace(passwordHash);
        if (state.RecordExists || state.State.PasswordHash.Length > 0)
        {
            return false;
        }

        state.State = new UserState { DisplayName = displayName, PasswordHash = passwordHash };
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State = new UserState();
            throw;
        }

        return true;
    }

    /// <inheritdoc />
    public Task<UserCredentials?> GetCredentialsAsync() =>
        Task.FromResult(state.State.PasswordHash.Length > 0 ? new UserCredentials(state.State.DisplayName, state.State.PasswordHash) : null);

    /// <inheritdoc />
    public async Task UpdatePasswordHashAsync(string passwordHash)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(passwordHash);
        if (state.State.PasswordHash.Length == 0)
        {
            throw new BookShelfNotFoundException("No such account.");
        }

        state.State.PasswordHash = passwordHash;
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task StartSessionAsync(string sessionId, DateTimeOffset expires)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        if (state.State.PasswordHash.Length == 0)
        {
            throw new BookShelfNotFoundException("No such account.");
        }

        var sessions = state.State.Sessions;
        var now = time.GetUtcNow();
        foreach (var (id, until) in sessions)
        {
            if (until <= now)
            {
                sessions.Remove(id);
            }
        }

        var evicted = new List<string>();
        while (sessions.Count >= MaxSessions)
        {
            var oldest = sessions.MinBy(s => s.Value).Key;
            sessions.Remove(oldest);
            evicted.Add(oldest);
        }

        sessions[sessionId] = expires;
        _startedHere.Add(sessionId);
        await state.WriteStateAsync();
        foreach (var ended in evicted)
        {
            await EndLeasesAsync(ended);
        }

        _leases.Retain(sessions, time.GetUtcNow());
        _startedHere.IntersectWith(sessions.Keys);
    }

    /// <inheritdoc />
    public Task<bool> IsSessionActiveAsync(string sessionId) =>
        Task.FromResult(state.State.Sessions.TryGetValue(sessionId, out var until) && until > time.GetUtcNow());

    /// <inheritdoc />
    public async Task<SessionLease> CheckSessionAsync(string sessionId, ISessionObserver holder)
    {
        ArgumentNullException.ThrowIfNull(holder);
        var now = time.GetUtcNow();
        if (!state.State.Sessions.TryGetValue(sessionId, out var until) || until <= now)
        {
            return SessionLease.Inactive;
        }

        var lease = options.Value.SessionLease < until - now ? options.Value.SessionLease : until - now;
        if (lease <= TimeSpan.Zero)
        {
            return new SessionLease(true, TimeSpan.Zero);
        }

        if (!state.State.LeasesOutstanding)
        {
            // Stored before the first lease of this activation is handed out, so a successor knows to wait for it.
            state.State.LeasesOutstanding = true;
            try
            {
                await state.WriteStateAsync();
            }
            catch
            {
                state.State.LeasesOutstanding = false;
                throw;
            }
        }

        _leases.Grant(sessionId, holder, now, now + lease);
        return new SessionLease(true, lease);
    }

    /// <inheritdoc />
    public async Task EndSessionAsync(string sessionId)
    {
        if (state.State.Sessions.Remove(sessionId))
        {
            await state.WriteStateAsync();
        }

        await EndLeasesAsync(sessionId);
    }

    /// <summary>Returns once no gateway node may still accept <paramref name="sessionId"/> on a lease.</summary>
    private async Task EndLeasesAsync(string sessionId)
    {
        var now = time.GetUtcNow();
        var waits = _leases.Take(sessionId, now).Select(l => RevokeAsync(l.Holder, sessionId, l.Until)).ToList();
        // An earlier activation (on a silo that died, or before a move) may have granted leases this one never saw.
        var predecessorsLeasesEnd = _activated + options.Value.SessionLease;
        if (_predecessorMayHaveLeases && !_startedHere.Contains(sessionId) && predecessorsLeasesEnd > now)
        {
            waits.Add(Task.Delay(predecessorsLeasesEnd - now + TimerMargin, time));
        }

        await Task.WhenAll(waits);
    }

    /// <summary>Tells <paramref name="holder"/> to forget the session; when it does not answer in time, waits until its lease has run out.</summary>
    private async Task RevokeAsync(ISessionObserver holder, string sessionId, DateTimeOffset until)
    {
        var runsOut = until - time.GetUtcNow();
        if (runsOut <= TimeSpan.Zero)
        {
            return;
        }

        var told = holder.RevokeAsync(this.GetPrimaryKeyString(), sessionId);
        var expired = Task.Delay(runsOut + TimerMargin, time);
        if (await Task.WhenAny(told, expired) == told && told.IsCompletedSuccessfully)
        {
            return;
        }

        LogLeaseOutlasted(logger, told.IsFaulted ? told.Exception.GetBaseException().Message : "no answer within the lease");
        _ = told.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await expired;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not store that no session lease is left running ({Reason}); the next activation will wait one lease before a sign-out of a session it did not start.")]
    private static partial void LogLeasesMarkNotCleared(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "A gateway holding a session lease did not confirm a sign-out ({Reason}); the sign-out waited for the lease to run out instead.")]
    private static partial void LogLeaseOutlasted(ILogger logger, string reason);
}
