using System.Collections.Concurrent;
using BookShelf.Gateway.Posts;

namespace BookShelf.Gateway.Feed;

/// <summary>
/// Which groups may be joined: the site group, and the group of a post that exists. A post is looked up once
/// and remembered (posts are never deleted); a made-up id is looked up each time and never reaches its
/// group's updater, so a client cannot make the silos hold an updater for every number it thinks of.
/// </summary>
public sealed class KnownGroups(IGrainFactory grains, GrainCalls calls)
{
    private const int MaxRemembered = 200_000;
    private readonly ConcurrentDictionary<long, byte> _posts = new();

    /// <summary>Whether <paramref name="group"/> (a well-formed group name) may be joined.</summary>
    public async ValueTask<bool> ExistsAsync(string group)
    {
        if (group == Groups.Site)
        {
            return true;
        }

        if (!Groups.TryGetPostId(group, out var id))
        {
            return false;
        }

        if (_posts.ContainsKey(id))
        {
            return true;
        }

        if (await calls.RunAsync(() => grains.GetGrain<IPostGrain>(id).GetAsync()) is null)
        {
            return false;
        }

        if (_posts.Count >= MaxRemembered)
        {
            _posts.Clear();
        }

        _posts.TryAdd(id, 0);
        return true;
    }
}
