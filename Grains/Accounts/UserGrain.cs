namespace BookShelf.Grains.Accounts;

/// <summary>One account, keyed by the lower-cased user name.</summary>
public sealed class UserGrain(
    [PersistentState("user", StorageNames.Users)] IPersistentState<UserState> state,
    TimeProvider time) : Grain, IUserGrain
{
    /// <summary>Most sessions one account keeps; the oldest-expiring go first.</summary>
    private const int MaxSessions = 100;

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

        while (sessions.Count >= MaxSessions)
        {
            sessions.Remove(sessions.MinBy(s => s.Value).Key);
        }

        sessions[sessionId] = expires;
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public Task<bool> IsSessionActiveAsync(string sessionId) =>
        Task.FromResult(state.State.Sessions.TryGetValue(sessionId, out var until) && until > time.GetUtcNow());

    /// <inheritdoc />
    public async Task EndSessionAsync(string sessionId)
    {
        if (state.State.Sessions.Remove(sessionId))
        {
            await state.WriteStateAsync();
        }
    }
}
