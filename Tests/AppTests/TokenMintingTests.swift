// The token command mints what Worker.php mints: the golden vectors made by PHP itself.
@testable import App
import Domain
import Foundation
import Testing

struct TokenMintingTests {
    struct Vector: Decodable {
        let name: String
        let topic: String
        let token: String
    }

    struct File: Decodable {
        let secret: String
        let vectors: [Vector]
    }

    /// Tests/AdapterTests/Fixtures/tokens/tokens.json, written by mint.php beside it.
    static let file: File = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AdapterTests/Fixtures/tokens/tokens.json")
        return try! JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    }()

    @Test(arguments: [
        ("valid topic binding", Int64(7)),
        ("unicode topic escaped by json_encode", 9),
        ("slash escaped by json_encode", 9),
    ])
    func mintsByteForByteWhatPHPMints(_ name: String, _ userID: Int64) throws {
        let vector = try #require(Self.file.vectors.first { $0.name == name })
        let secret = try #require(SharedSecret(Self.file.secret))
        // The vectors expire at 2000000000; a one-hour token minted an hour before has the same claims.
        let minted = TokenMinting.mint(topic: vector.topic, userID: userID, ttl: .seconds(3600), secret: secret, now: 2_000_000_000 - 3600)
        #expect(minted == vector.token)
    }

    @Test func phpEscapingOfStrings() {
        #expect(TokenMinting.phpJSONString("a/b \"c\" \\ é 😀\n") == #""a\/b \"c\" \\ \u00e9 \ud83d\ude00\n""#)
    }

    @Test func anInvalidTopicMintsNothing() {
        #expect(TokenMinting.mint(topic: String(repeating: "x", count: 300), userID: 0, ttl: .seconds(60), secret: SharedSecret("0123456789abcdef0123456789abcdef")!) == nil)
    }
}
