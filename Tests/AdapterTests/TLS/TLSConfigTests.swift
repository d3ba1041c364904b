// The TLS keys through real libyaml and the environment: a pair per port, one line naming the
// key for every mistake.
import Adapters
import Foundation
import Testing

struct TLSConfigTests {
    let certificate = TestPaths.fixture("tls/cert.pem").path
    let key = TestPaths.fixture("tls/key.pem").path

    func error(_ yaml: String, environment: [String: String] = [:]) -> String? {
        ConfigText.error(ConfigText.secretLine + yaml, environment: environment)?.description
    }

    @Test func offByDefault() throws {
        let config = try ConfigText.load(ConfigText.secretLine).config
        #expect(config.publicTLS == nil && config.internalTLS == nil)
        #expect(config.summaryFields.contains { $0 == ("tls", "off") })
    }

    @Test func eachPortHasItsPairAndTheSharedSettingsApplyToBoth() throws {
        let config = try ConfigText.load(ConfigText.secretLine + """
            tls_cert_file: \(certificate)
            tls_key_file: \(key)
            internal_tls_cert_file: \(certificate)
            internal_tls_key_file: \(key)
            tls_ciphers: ECDHE-ECDSA-AES128-GCM-SHA256
            tls_handshake_timeout: 3s
            """).config
        var expected = TLSSettings(certificateFile: certificate, keyFile: key)
        expected.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"
        expected.handshakeTimeout = .seconds(3)
        #expect(config.publicTLS == expected)
        #expect(config.internalTLS == expected)
    }

    @Test func theEnvironmentNamesTheKeysAsForTheOthers() throws {
        let config = try ConfigText.load(
            ConfigText.secretLine, environment: ["WAVELOG_TLS_CERT_FILE": certificate, "WAVELOG_TLS_KEY_FILE": key]).config
        #expect(config.publicTLS == TLSSettings(certificateFile: certificate, keyFile: key))
        #expect(config.internalTLS == nil)
    }

    @Test func halfAPairIsAnErrorNamingTheMissingKey() {
        #expect(error("tls_cert_file: \(certificate)\n")?.contains("tls_key_file: required with tls_cert_file") == true)
        #expect(error("tls_key_file: \(key)\n")?.contains("tls_cert_file: required with tls_key_file") == true)
        #expect(error("internal_tls_cert_file: \(certificate)\n")?.contains("internal_tls_key_file: required") == true)
    }

    @Test func badValuesNameTheirKey() {
        let unreadable = error("tls_cert_file: /nonexistent/cert.pem\ntls_key_file: \(key)\n")
        #expect(unreadable?.contains("tls_cert_file") == true && unreadable?.contains("is not a readable file") == true)
        #expect(error("tls_handshake_timeout: soon\n")?.contains("tls_handshake_timeout") == true)
        #expect(error("tls_ciphers: \"AES128 SHA\"\n")?.contains("tls_ciphers") == true)
        #expect(error("tls_ciphers: [a, b]\n")?.contains("tls_ciphers") == true)
    }
}
