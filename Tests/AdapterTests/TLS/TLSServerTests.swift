// Loading and reloading a certificate with real OpenSSL: what a bad pair is told, and what a
// reload leaves in place when the new files are broken.
@testable import Adapters
import COpenSSL
import Foundation
import Testing

struct TLSServerTests {
    let certificate = TestPaths.fixture("tls/cert.pem").path
    let key = TestPaths.fixture("tls/key.pem").path
    let otherKey = TestPaths.fixture("tls/other-key.pem").path

    func loadError(_ settings: TLSSettings) -> TLSLoadError? {
        do {
            _ = try TLSServer(settings, key: "tls_cert_file")
            return nil
        } catch {
            return error
        }
    }

    /// The common name of the certificate a new connection would be served.
    func servedName(_ server: TLSServer) -> String? {
        guard let ssl = server.makeSession() else { return nil }
        defer { SSL_free(ssl) }
        guard let certificate = SSL_get_certificate(ssl), let name = X509_get_subject_name(certificate) else { return nil }
        var text = [CChar](repeating: 0, count: 256)
        guard X509_NAME_get_text_by_NID(name, NID_commonName, &text, Int32(text.count)) > 0 else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test func aGoodPairLoads() throws {
        let server = try TLSServer(TLSSettings(certificateFile: certificate, keyFile: key), key: "tls_cert_file")
        #expect(servedName(server) == "wavelog-worker test only")
        #expect(server.handshakeTimeout == TLSSettings.defaultHandshakeTimeout)
    }

    @Test func eachBadPartIsBlamedOnItsSetting() {
        let mismatched = loadError(TLSSettings(certificateFile: certificate, keyFile: otherKey))
        #expect(mismatched?.culprit == .key)
        #expect(mismatched?.description.contains("does not match the certificate") == true)
        let notACertificate = loadError(TLSSettings(certificateFile: key, keyFile: key))
        #expect(notACertificate?.culprit == .certificate)
        let notAKey = loadError(TLSSettings(certificateFile: certificate, keyFile: certificate))
        #expect(notAKey?.culprit == .key)
        var ciphers = TLSSettings(certificateFile: certificate, keyFile: key)
        ciphers.ciphers = "NO-SUCH-CIPHER"
        #expect(loadError(ciphers)?.culprit == .ciphers)
    }

    @Test func aReloadTakesNewFilesAndABrokenPairLeavesTheOldOne() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let liveCertificate = directory.appendingPathComponent("cert.pem")
        let liveKey = directory.appendingPathComponent("key.pem")
        try FileManager.default.copyItem(atPath: certificate, toPath: liveCertificate.path)
        try FileManager.default.copyItem(atPath: key, toPath: liveKey.path)
        let server = try TLSServer(TLSSettings(certificateFile: liveCertificate.path, keyFile: liveKey.path), key: "tls_cert_file")
        #expect(throws: Never.self) { try server.reload().get() }
        try Data(contentsOf: URL(fileURLWithPath: otherKey)).write(to: liveKey)
        guard case .failure(let error) = server.reload() else {
            Issue.record("a key that does not match its certificate was taken")
            return
        }
        #expect(error.culprit == .key)
        #expect(servedName(server) == "wavelog-worker test only")
    }
}
