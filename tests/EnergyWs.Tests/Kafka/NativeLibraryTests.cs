using System.Reflection;
using EnergyWs.Kafka;
using EnergyWs.Tests.Infrastructure;

namespace EnergyWs.Tests.Kafka;

public sealed class NativeLibraryTests
{
    private static readonly string[] SystemLibrdkafka =
    [
        "/usr/lib/x86_64-linux-gnu/librdkafka.so.1",
        "/usr/lib/aarch64-linux-gnu/librdkafka.so.1",
    ];

    [Fact]
    public async Task Consumer_RunsOnBundledLibrdkafka_EvenWithSystemCopyInstalled()
    {
        await using var stack = await TestStack.StartAsync(TestContext.Current.CancellationToken);

        // CI installs kcat, which brings Debian's librdkafka 2.0.2: the copy Confluent.Kafka would bind by default.
        var systemCopy = SystemLibrdkafka.FirstOrDefault(File.Exists);
        TestContext.Current.SendDiagnosticMessage($"system librdkafka: {systemCopy ?? "none"}; loaded: {Librdkafka.LoadedFrom}");

        // The bundled library ships with Confluent.Kafka's own release: same major.minor.
        var confluent = typeof(Confluent.Kafka.Library).Assembly.GetName().Version!;
        Assert.StartsWith($"{confluent.Major}.{confluent.Minor}.", Confluent.Kafka.Library.VersionString, StringComparison.Ordinal);
        Assert.NotNull(Librdkafka.LoadedFrom);
        Assert.StartsWith(AppContext.BaseDirectory, Librdkafka.LoadedFrom, StringComparison.Ordinal);

        // And it consumes: the entry point that the system 2.0.2 lacks is used on the first Consume.
        await using var client = await WsClient.ConnectAsync(stack.App.WebSocketUri(), cancellationToken: TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(() => stack.App.Get<EnergyWs.Streaming.Broadcaster>().Count == 1, "the client is registered", TestContext.Current.CancellationToken);
        await stack.ProduceAsync([SeedReadings.Json(3)]);
        Assert.Equal(SeedReadings.Json(3), await client.ReceiveAsync());
    }
}
