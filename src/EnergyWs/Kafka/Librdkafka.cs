using System.Reflection;
using System.Runtime.InteropServices;

namespace EnergyWs.Kafka;

/// <summary>
/// Binds Confluent.Kafka (and our own mock-cluster P/Invokes) to the librdkafka that ships in
/// librdkafka.redist, never to a system copy.
/// </summary>
/// <remarks>
/// Confluent.Kafka resolves <c>DllImport("librdkafka")</c> through the normal probing path first.
/// Where Debian's librdkafka 2.0.2 is installed (kcat pulls it in) that silently wins, producing
/// works and the first <c>Consume</c> dies on a missing entry point. A resolver per assembly that
/// maps "librdkafka" to a handle we loaded from the redist folder removes the ambiguity.
/// </remarks>
internal static class Librdkafka
{
    internal const string LibraryName = "librdkafka";

    private static readonly Lock Gate = new();
    private static nint _handle;

    /// <summary>The path the native library was loaded from, for logs and tests.</summary>
    public static string? LoadedFrom { get; private set; }

    /// <summary>Loads the bundled librdkafka once per process; safe to call from anywhere.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_handle != 0)
            {
                return;
            }

            foreach (var candidate in Candidates())
            {
                if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out var handle))
                {
                    _handle = handle;
                    LoadedFrom = candidate;
                    break;
                }
            }

            if (_handle == 0)
            {
                throw new DllNotFoundException(
                    $"The bundled librdkafka was not found for {RuntimeInformation.RuntimeIdentifier} under {AppContext.BaseDirectory}.");
            }

            NativeLibrary.SetDllImportResolver(typeof(Confluent.Kafka.Library).Assembly, Resolve);
            NativeLibrary.SetDllImportResolver(typeof(Librdkafka).Assembly, Resolve);
            Confluent.Kafka.Library.Load();
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == LibraryName ? _handle : 0;

    /// <summary>
    /// Where the redist package puts its files: runtimes/&lt;rid&gt;/native for framework-dependent
    /// builds, beside the binary for RID-specific publishes (and in the container).
    /// </summary>
    private static IEnumerable<string> Candidates()
    {
        var baseDir = AppContext.BaseDirectory;
        var arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.Arm64 => "arm64",
            Architecture.X64 => "x64",
            var other => other.ToString().ToLowerInvariant(),
        };
        var musl = IsMusl();

        // x64 glibc: the plain librdkafka.so needs libsasl2.so.3, which Debian 12 lacks; the centos8
        // build links only against glibc. arm64 ships a single glibc build.
        string[] names = (musl, arch) switch
        {
            (true, _) => ["alpine-librdkafka.so", "librdkafka.so"],
            (false, "x64") => ["centos8-librdkafka.so", "librdkafka.so"],
            _ => ["librdkafka.so"],
        };

        foreach (var name in names)
        {
            yield return Path.Combine(baseDir, name);
            yield return Path.Combine(baseDir, "runtimes", $"linux-{arch}", "native", name);
            if (musl)
            {
                yield return Path.Combine(baseDir, "runtimes", $"linux-musl-{arch}", "native", name);
            }
        }
    }

    private static bool IsMusl() =>
        RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal) ||
        File.Exists("/etc/alpine-release");
}
