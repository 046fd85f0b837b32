using System.ComponentModel.DataAnnotations;

namespace BookShelf.Grains;

/// <summary>Settings of accounts and their sessions (configuration section <c>Accounts</c>).</summary>
public sealed class AccountsOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Accounts";

    /// <summary>
    /// How long a gateway may accept a session it checked without asking its user's grain again. A sign-out waits
    /// for each gateway holding such a lease to forget it, so this is also the longest a sign-out waits for a gateway
    /// that cannot be reached (and for a user's grain that has just moved to another silo). Zero: every request asks.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan SessionLease { get; set; } = TimeSpan.FromSeconds(5);
}
