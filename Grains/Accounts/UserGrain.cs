namespace BookShelf.Grains.Accounts;

/// <summary>One account, keyed by the lower-cased user name.</summary>
public sealed class UserGrain(
    [PersistentState("user", StorageNames.Users)] IPersistentState<UserState> state) : Grain, IUserGrain
{
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
}
