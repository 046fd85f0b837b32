namespace BookShelf.Gateway.Accounts;

/// <summary>
/// The cluster did not answer whether a request's session is still signed in, so the request was not carried out:
/// answered 503 with "nothing was changed" (a write that never started is not of unknown outcome).
/// </summary>
public sealed class SignInCheckUnavailableException(Exception inner)
    : Exception("BookShelf could not check the sign-in of this request.", inner);
