using EnergyWs.Auth;
using EnergyWs.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EnergyWs.Tests.Auth;

/// <summary>Settings that switch authentication on against a provider stand-in, with every log level captured.</summary>
internal static class AuthSettings
{
    public static Dictionary<string, string?> For(IdentityProvider provider, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Auth:Enabled"] = "true",
            ["Auth:Authority"] = provider.Issuer,
            ["Auth:Audience"] = IdentityProvider.Audience,
            ["Auth:RequireHttpsMetadata"] = "false",
            ["Auth:KeyRefreshMinimumInterval"] = "00:00:01",
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Trace",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    public static Action<IServiceCollection> Capture(LogCapture logs) => services => services.AddSingleton<ILoggerProvider>(logs);
}

/// <summary>One provider stand-in, a second unrelated provider, and one authenticated service, shared by a test class.</summary>
public sealed class AuthFixture : IAsyncLifetime
{
    public const string AllowedOrigin = "https://energy.example.com";

    private TestKafka? _kafka;

    internal TestKafka Kafka => _kafka!;

    internal string Topic { get; private set; } = "";

    internal IdentityProvider Provider { get; private set; } = null!;

    internal IdentityProvider OtherProvider { get; private set; } = null!;

    internal EnergyWsApp App { get; private set; } = null!;

    internal LogCapture Logs { get; } = new();

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _kafka = new TestKafka();
        var topic = Topic = await _kafka.CreateTopicAsync();
        Provider = await IdentityProvider.StartAsync(ct);
        OtherProvider = await IdentityProvider.StartAsync(ct);
        App = await new EnergyWsApp(_kafka.BootstrapServers, topic, AuthSettings.For(Provider, new Dictionary<string, string?>
        {
            ["Auth:AllowedOrigins:0"] = AllowedOrigin,
        }), AuthSettings.Capture(Logs)).StartAsync(ct);
        await Eventually.TrueAsync(() => App.Get<SigningKeyState>().Loaded, "the signing keys are loaded", ct);
    }

    /// <summary>Every token any test of the class used, checked against everything logged meanwhile.</summary>
    internal void AssertNoTokensLogged() => Logs.AssertNoTokens(Provider.Issued.Concat(OtherProvider.Issued));

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Provider.DisposeAsync();
        await OtherProvider.DisposeAsync();
        _kafka?.Dispose();
    }
}
