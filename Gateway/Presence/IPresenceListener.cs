namespace BookShelf.Gateway.Presence;

/// <summary>A local connection that asked for a group's presence.</summary>
public interface IPresenceListener
{
    /// <summary>The group's cluster-wide count (may repeat the last one; must return quickly and never block).</summary>
    void OnPresence(string group, int count);
}
