// The TLS keys: a certificate and key per port, read together because one without the other is
// a mistake to name at start-up, not a port that silently stays plain.
internal import Domain
internal import Glibc

enum TLSKeys {
    static let known = [
        "tls_cert_file", "tls_key_file", "internal_tls_cert_file", "internal_tls_key_file", "tls_ciphers", "tls_handshake_timeout",
        "redis_tls_ca_file", "redis_tls_insecure_skip_verify",
    ]

    /// Sets `publicTLS` and `internalTLS`; the files are checked for reading here and loaded
    /// by the listeners, whose errors name the file.
    static func decode(_ values: [String: ConfigValue], into config: inout WorkerConfig) throws(ConfigError) {
        var ciphers = TLSSettings.defaultCiphers
        if let value = values["tls_ciphers"], !value.node.isNull {
            ciphers = try ConfigKeys.string(value, "tls_ciphers")
            guard !ciphers.isEmpty, ciphers.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw ConfigKeys.error(value, "tls_ciphers", "expected an OpenSSL cipher list like ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
            }
        }
        var timeout = TLSSettings.defaultHandshakeTimeout
        if let value = values["tls_handshake_timeout"], !value.node.isNull {
            timeout = try ConfigKeys.duration(value, "tls_handshake_timeout")
        }
        try decodeRedis(values, into: &config)
        for (certificateKey, keyKey, isPublic) in [("tls_cert_file", "tls_key_file", true), ("internal_tls_cert_file", "internal_tls_key_file", false)] {
            let certificate = try file(values, certificateKey)
            let key = try file(values, keyKey)
            switch (certificate, key) {
            case (nil, nil):
                continue
            case (.some, nil):
                throw ConfigError(key: keyKey, message: "required with \(certificateKey): the private key of its certificate")
            case (nil, .some):
                throw ConfigError(key: certificateKey, message: "required with \(keyKey): the certificate (chain) of that key")
            case (.some(let certificate), .some(let key)):
                var settings = TLSSettings(certificateFile: certificate, keyFile: key)
                settings.ciphers = ciphers
                settings.handshakeTimeout = timeout
                if isPublic { config.publicTLS = settings } else { config.internalTLS = settings }
            }
        }
    }

    /// How `rediss://` links verify Redis; either key without a `rediss://` URL is a mistake.
    private static func decodeRedis(_ values: [String: ConfigValue], into config: inout WorkerConfig) throws(ConfigError) {
        var settings = TLSClientSettings()
        settings.caFile = try file(values, "redis_tls_ca_file")
        if let value = values["redis_tls_insecure_skip_verify"], !value.node.isNull {
            settings.insecureSkipVerify = try ConfigKeys.bool(value, "redis_tls_insecure_skip_verify")
        }
        guard settings != TLSClientSettings() else { return }
        guard config.redis?.usesTLS == true else {
            let key = settings.caFile != nil ? "redis_tls_ca_file" : "redis_tls_insecure_skip_verify"
            throw values[key].map { ConfigKeys.error($0, key, "applies to a rediss:// redis_url only") }
                ?? ConfigError(key: key, message: "applies to a rediss:// redis_url only")
        }
        config.redisTLS = settings
    }

    /// A readable file's path, or nil when the key is absent or empty.
    private static func file(_ values: [String: ConfigValue], _ key: String) throws(ConfigError) -> String? {
        guard let value = values[key], !value.node.isNull else { return nil }
        let path = try ConfigKeys.string(value, key)
        guard !path.isEmpty else { return nil }
        guard access(path, R_OK) == 0 else { throw ConfigKeys.error(value, key, "\(Sanitize.forLog(path)) is not a readable file") }
        return path
    }
}
