namespace BookShelf.Browser.Tests;

/// <summary>
/// The real system (redis-server, two silos, two gateways, as processes on loopback) and one headless Debian
/// Chromium driven by Playwright. Each test opens its own browser contexts (independent users).
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>Debian's Chromium (browsers cannot be downloaded here).</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    /// <summary>The system.</summary>
    public LocalSystem System { get; private set; } = null!;

    /// <summary>The browser.</summary>
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where screenshots and traces of this run go.</summary>
    public string Artifacts { get; } = Path.Combine(LocalSystem.RepositoryRoot, "TestResults", "browser");

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Artifacts);
        System = await LocalSystem.StartAsync(new LocalSystemOptions
        {
            Silos = 2,
            Gateways = 2,
            // The reconnect scenario kills a gateway: keep silos' view of it short-lived.
            GatewayArguments = ["--Gateway:Feed:RenewInterval", "00:00:02", "--Gateway:SignUpPermitLimitPerAddress", "1000"],
            SiloArguments = ["--Feed:LeaseDuration", "00:00:06"],
        });
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        });
    }

    /// <summary>A fresh browser context (its own cookies: one user) with a page.</summary>
    public async Task<(IBrowserContext Context, IPage Page)> NewUserAsync(int width = 1280, int height = 800)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        return (context, page);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (System is not null)
        {
            await System.DisposeAsync();
        }
    }
}

/// <summary>Tests sharing one <see cref="BrowserFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Browser";
}
