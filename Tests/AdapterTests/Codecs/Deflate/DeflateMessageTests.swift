// Compressed messages both ways: shared push frames deflated once, client messages inflated in
// the decoder (whole, byte by byte, in random chunkings), and every bound on inflation.
@testable import Adapters
import Testing
import TestSupport

func deflated(_ message: [UInt8], windowBits: Int = 15) -> [UInt8] {
    let deflater = RawDeflater(windowBits: windowBits, level: 6)!
    return message.withUnsafeBytes { bytes in deflater.compress(bytes) { Array($0) }! }
}

func decodeCompressed(_ bytes: [UInt8], plan: ChunkPlan, limit: Int = 4096, inflater: RawInflater = RawInflater()) -> WebSocketOutcome {
    decodeWebSocket(bytes, plan: plan, limit: limit, inflater: inflater)
}

struct DeflateMessageTests {
    static let text = Array(#"{"type":"status","freq":14074000,"mode":"FT8","call":"DL1ABC","éè":"✓"}"#.utf8)

    @Test func aCompressedMessageDecodesUnderEveryChunking() {
        let frame = clientFrame(1, deflated(Self.text), rsv: 0x40)
        let stream = frame + clientFrame(1, Array("plain".utf8)) + frame
        for plan in ChunkPlans.all(length: stream.count) {
            let outcome = decodeCompressed(stream, plan: plan)
            #expect(outcome == WebSocketOutcome(events: [.text(Self.text), .text(Array("plain".utf8)), .text(Self.text)]), "\(plan)")
        }
    }

    @Test func aFragmentedCompressedMessageCarriesRSV1OnItsFirstFrameOnly() {
        let compressed = deflated(Self.text)
        let cut = compressed.count / 2
        let stream = clientFrame(1, Array(compressed[..<cut]), fin: false, rsv: 0x40) + clientFrame(9, [1, 2])
            + clientFrame(0, Array(compressed[cut...]))
        for plan in ChunkPlans.all(length: stream.count) {
            #expect(decodeCompressed(stream, plan: plan).events == [.ping([1, 2]), .text(Self.text)], "\(plan)")
        }
    }

    @Test(arguments: [
        ("RSV1 on a continuation", clientFrame(1, [0x61], fin: false) + clientFrame(0, [0x62], rsv: 0x40)),
        ("RSV1 on a ping", clientFrame(9, [], rsv: 0x40)),
        ("RSV2", clientFrame(1, [0x61], rsv: 0x20)),
    ])
    func reservedBitsOutsideTheExtensionAre1002(_ name: String, _ bytes: [UInt8]) {
        #expect(decodeCompressed(bytes, plan: .whole(bytes.count)).error?.closeCode == 1002, "\(name)")
    }

    @Test func rsv1WithoutNegotiationIs1002() {
        let bytes = clientFrame(1, deflated(Self.text), rsv: 0x40)
        #expect(decodeWebSocket(bytes, plan: .whole(bytes.count)).error?.closeCode == 1002)
    }

    @Test func aDeflateBombIs1009AndIsNeverInflatedWhole() {
        let bomb = deflated([UInt8](repeating: 0, count: 1 << 20))  // 1 MiB of zeros, about 1 KiB compressed
        #expect(bomb.count < 4096, "small enough to pass the compressed-size check and reach the inflater")
        let inflater = RawInflater()
        let frame = clientFrame(2, bomb, rsv: 0x40)
        let outcome = decodeCompressed(frame, plan: .whole(frame.count), limit: 4096, inflater: inflater)
        #expect(outcome.error == .messageTooBig)
        #expect(outcome.error?.closeCode == 1009)
        // It stopped within one output chunk of the limit, not after 1 MiB.
        #expect(inflater.producedByLastCall > 0)
        #expect(inflater.producedByLastCall <= 4096 + (16 << 10))
    }

    @Test func aRatioPastTheBoundIs1009EvenUnderALargeLimit() {
        let bomb = deflated([UInt8](repeating: 0x61, count: 4 << 20))
        let inflater = RawInflater()
        let frame = clientFrame(2, bomb, rsv: 0x40)
        #expect(decodeCompressed(frame, plan: .whole(frame.count), limit: 16 << 20, inflater: inflater).error == .messageTooBig)
        #expect(inflater.producedByLastCall > 64 << 10)
        #expect(inflater.producedByLastCall <= RawInflater.maxRatio * bomb.count + (16 << 10))
    }

    @Test func corruptDataIs1007AndInvalidUTF8AfterInflationToo() {
        let corrupt = clientFrame(1, [0xFF, 0xFF, 0xFF, 0xFF, 0x00], rsv: 0x40)
        #expect(decodeCompressed(corrupt, plan: .whole(corrupt.count)).error == .badCompressedData)
        #expect(WebSocketProtocolError.badCompressedData.closeCode == 1007)
        let notUTF8 = clientFrame(1, deflated([0x61, 0xC3, 0x28]), rsv: 0x40)
        #expect(decodeCompressed(notUTF8, plan: .whole(notUTF8.count)).error == .invalidUTF8)
    }

    @Test func aMessageCutInsideADeflateBlockIs1007NotAShorterMessage() {
        let compressed = deflated(Array(String(repeating: "radio status, ", count: 40).utf8))
        for cut in [1, 2, 3, compressed.count / 2] {
            let frame = clientFrame(1, Array(compressed.dropLast(cut)), rsv: 0x40)
            let outcome = decodeCompressed(frame, plan: .whole(frame.count))
            #expect(outcome.events.isEmpty, "cut \(cut): \(outcome)")
            #expect(outcome.error == .badCompressedData || outcome.error == .invalidUTF8, "cut \(cut): \(outcome)")
        }
    }

    @Test(arguments: [1000, 16 << 10, (16 << 10) + 1, 100_000, 131_072])
    func largeMessagesInflateWhole(_ size: Int) throws {
        var generator = SeededGenerator(seed: UInt64(size))
        let words = ["radio", "status", "14074000", "FT8", "DL1ABC", "snr", "-12", ",", "{", "}"]
        var text: [UInt8] = []
        while text.count < size { text += Array(words[Int(generator.next() % UInt64(words.count))].utf8) }
        text = Array(text.prefix(size))
        let inflated = try (deflated(text) + RawInflater.tail).withUnsafeBytes { try RawInflater().inflate($0, limit: 1 << 20) }
        #expect(inflated == text)
        let random = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        #expect(try (deflated(random) + RawInflater.tail).withUnsafeBytes { try RawInflater().inflate($0, limit: 1 << 20) } == random)
    }

    @Test func theInflaterIsReusableAfterAnError() {
        let inflater = RawInflater()
        let corrupt = clientFrame(1, [0xFF, 0xFF, 0xFF, 0xFF, 0x00], rsv: 0x40)
        _ = decodeCompressed(corrupt, plan: .whole(corrupt.count), inflater: inflater)
        let good = clientFrame(1, deflated(Self.text), rsv: 0x40)
        #expect(decodeCompressed(good, plan: .whole(good.count), inflater: inflater).events == [.text(Self.text)])
    }

    @Test(arguments: 9...15)
    func theSharedPushIsRawDeflateWithoutTheSyncTailAndInflatesBack(_ windowBits: Int) throws {
        let payload = Array(String(repeating: #"{"band":"20m","snr":-12},"#, count: 80).utf8)
        let frame = WebSocketFrameEncoder.deflatedPush(payload: payload, pool: DeflaterPool(windowBits: windowBits, level: 6), threshold: 256).copiedBytes
        #expect(frame[0] == 0xC1, "FIN, RSV1, text")
        let length = frame[1] == 126 ? Int(frame[2]) << 8 | Int(frame[3]) : Int(frame[1])
        let body = Array(frame[(frame[1] == 126 ? 4 : 2)...])
        #expect(body.count == length)
        #expect(Array(body.suffix(4)) != RawInflater.tail)
        let inflated = try (body + RawInflater.tail).withUnsafeBytes { try RawInflater().inflate($0, limit: 1 << 20) }
        #expect(inflated == Array(#"{"type":"push","payload":"#.utf8) + payload + Array("}".utf8))
        #expect(length < payload.count / 4, "JSON compresses")
    }

    @Test func aPushBelowTheThresholdIsThePlainFrame() {
        let payload = Array(#""short""#.utf8)
        let pool = DeflaterPool(windowBits: 15, level: 6)
        #expect(WebSocketFrameEncoder.deflatedPush(payload: payload, pool: pool, threshold: 256).copiedBytes
            == WebSocketFrameEncoder.push(payload: payload).copiedBytes)
    }
}
