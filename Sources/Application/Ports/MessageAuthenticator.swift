// Port: HMAC-SHA256 keyed with the worker secret.
public import Domain

/// Computes the token signature over bytes; the key is the adapter's.
public protocol MessageAuthenticator: Sendable {
    func authenticationCode(for message: UnsafeRawBufferPointer) -> MAC256
}
