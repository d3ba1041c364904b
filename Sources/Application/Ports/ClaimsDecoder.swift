// Port: reads the claims JSON of a token whose signature already matched.
public import Domain

/// Decodes a token's claims JSON into fields; nil when it is not a JSON object.
public protocol ClaimsDecoder: Sendable {
    func decodeClaims(_ json: [UInt8]) -> ClaimFields?
}
