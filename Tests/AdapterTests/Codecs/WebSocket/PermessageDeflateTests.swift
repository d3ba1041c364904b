// Negotiating permessage-deflate: which offers are accepted, with what answer, and which are declined.
@testable import Adapters
import Testing

struct PermessageDeflateTests {
    static let plain = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

    @Test(arguments: [
        ("permessage-deflate; client_max_window_bits", plain),  // what browsers send
        ("permessage-deflate", plain),
        ("PerMessage-Deflate ; Client_Max_Window_Bits", plain),
        ("permessage-deflate; server_no_context_takeover; client_no_context_takeover", plain),
        ("permessage-deflate; client_max_window_bits=10", plain),
        ("permessage-deflate; client_max_window_bits=\"12\"", plain),
        ("permessage-deflate; server_max_window_bits=10", plain + "; server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=15", plain + "; server_max_window_bits=15"),
        ("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=9", plain + "; server_max_window_bits=9"),
        // The first acceptable offer wins; the declined one before it is skipped.
        ("permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=11", plain + "; server_max_window_bits=11"),
        ("permessage-deflate; unknown=1, permessage-deflate", plain),
    ])
    func acceptsTheFirstOfferItCanHonour(_ offer: String, _ answer: String) {
        #expect(PermessageDeflate.negotiate([offer])?.responseValue == answer)
    }

    @Test(arguments: [
        "permessage-deflate; server_max_window_bits=8",  // zlib cannot keep to 256 bytes
        "permessage-deflate; server_max_window_bits",  // needs a value
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; mystery",
        "permessage-deflate; server_max_window_bits=\"1 0\"",
        "permessage-deflate;",
        "x-webkit-deflate-frame",
        "",
        "; ; ,,,",
        "permessage-deflate; client_max_window_bits=\"unterminated",
        "permessage-deflate; server_max_window_bits=\"\"10",
    ])
    func declinesWhatItCannotHonourWithoutFailing(_ offer: String) {
        #expect(PermessageDeflate.negotiate([offer]) == nil)
    }

    @Test func offersMaySpreadOverSeveralHeaderLines() {
        #expect(PermessageDeflate.negotiate(["foo", "permessage-deflate; server_max_window_bits=12"])?.serverWindowBits == 12)
        #expect(PermessageDeflate.negotiate([String(repeating: "x", count: PermessageDeflate.maxOfferBytes + 1)]) == nil)
    }

    @Test func randomOffersNeverCrash() {
        var generator = SeededGeneratorForOffers(seed: 0xDEF1A7E)
        let alphabet = Array("permessage-deflate; =,\"\\_mwbitsx0123456789 \t".utf8)
        for _ in 0..<5000 {
            let length = Int(generator.next() % 80)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            if let accepted = PermessageDeflate.negotiate([String(decoding: bytes, as: UTF8.self)]) {
                #expect((9...15).contains(accepted.serverWindowBits))
            }
        }
    }
}

/// A small deterministic generator, so a failing offer can be reproduced.
struct SeededGeneratorForOffers {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 17
    }
}
