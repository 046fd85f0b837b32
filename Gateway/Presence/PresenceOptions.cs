using System.ComponentModel.DataAnnotations;

namespace BookShelf.Gateway.Presence;

/// <summary>How this gateway node reports its connections to the presence grains (section <c>Gateway:Presence</c>).</summary>
public sealed class PresenceOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Gateway:Presence";

    /// <summary>How long a report counts: when this node dies, its connections drop out of the totals within this.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often every group's count is reported again even when unchanged (well inside the lease).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The shortest time between two rounds of reports of changed counts (joins and leaves in between go together).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan ReportSpacing { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RenewInterval * 2 > Lease)
        {
            yield return new ValidationResult("Gateway:Presence:RenewInterval must be at most half of Gateway:Presence:Lease, so a live node's report never lapses.", [nameof(RenewInterval)]);
        }
    }
}
