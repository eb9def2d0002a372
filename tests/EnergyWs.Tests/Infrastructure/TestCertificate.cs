using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EnergyWs.Tests.Infrastructure;

/// <summary>A self-signed server certificate for 127.0.0.1, written to a PKCS#12 file Kestrel can load.</summary>
internal sealed class TestCertificate : IDisposable
{
    public const string Password = "test";

    private readonly X509Certificate2 _certificate;

    public TestCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        _certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"energy-ws-test-{Guid.NewGuid():N}.pfx");
        File.WriteAllBytes(Path, _certificate.Export(X509ContentType.Pkcs12, Password));
    }

    public string Path { get; }

    /// <summary>Trusts this certificate, and only it, for the client's TLS handshake.</summary>
    public RemoteCertificateValidationCallback Validate =>
        (_, presented, _, _) => presented?.GetCertHashString() == _certificate.GetCertHashString();

    public void Dispose()
    {
        File.Delete(Path);
        _certificate.Dispose();
    }
}
