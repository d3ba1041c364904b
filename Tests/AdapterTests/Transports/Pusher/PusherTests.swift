// The Pusher codecs on their own: client messages, channel names, and the signatures, checked
// against the worked examples of the Pusher documentation.
@testable import Adapters
import Testing

struct PusherTests {
    func decode(_ text: String) -> Result<PusherClientMessage, PusherMessageError> {
        Array(text.utf8).withUnsafeBufferPointer { PusherMessageDecoder.decode($0) }
    }

    @Test func clientMessagesAreReadWithDataAsAnObjectOrAsAStringHoldingOne() {
        #expect(decode(#"{"event":"pusher:ping","data":{}}"#) == .success(.ping))
        #expect(decode(#"{"event":"pusher:subscribe","data":{"channel":"private-a","auth":"k:s"}}"#)
            == .success(.subscribe(channel: "private-a", auth: "k:s", channelData: nil)))
        #expect(decode(#"{"event":"pusher:subscribe","data":"{\"channel\":\"a\"}"}"#)
            == .success(.subscribe(channel: "a", auth: nil, channelData: nil)))
        #expect(decode(#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"1\"}"}}"#)
            == .success(.signin(auth: "k:s", userData: #"{"id":"1"}"#)))
        #expect(decode(#"{"event":"client-x","channel":"private-a","data":{"a": [1]}}"#)
            == .success(.clientEvent(name: "client-x", channel: "private-a", data: Array(#"{"a": [1]}"#.utf8))))
        #expect(decode(#"{"event":"custom","data":{}}"#) == .success(.other(event: "custom")))
    }

    @Test(arguments: ["", "x", "[]", #"{"event":1}"#, #"{"data":{}}"#, String(repeating: "[", count: 20) + String(repeating: "]", count: 20)])
    func anythingButAnObjectWithAnEventIsMalformed(_ text: String) {
        #expect(decode(text) == .failure(.malformed))
    }

    @Test func knownEventsWithoutWhatTheyNeedAreIncomplete() {
        #expect(decode(#"{"event":"pusher:subscribe","data":{}}"#) == .failure(.incomplete(event: "pusher:subscribe")))
        #expect(decode(#"{"event":"pusher:subscribe"}"#) == .failure(.incomplete(event: "pusher:subscribe")))
        #expect(decode(#"{"event":"pusher:signin","data":{"auth":"a"}}"#) == .failure(.incomplete(event: "pusher:signin")))
        #expect(decode(#"{"event":"client-x","data":{}}"#) == .failure(.incomplete(event: "client-x")))
    }

    @Test func everyPrefixOfAMessageIsRefusedOrReadNeverMisread() {
        let whole = #"{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"k:s","channel_data":"{\"user_id\":1}"}}"#
        let bytes = Array(whole.utf8)
        for end in 0..<bytes.count {
            let result = Array(bytes[0..<end]).withUnsafeBufferPointer { PusherMessageDecoder.decode($0) }
            #expect(result == .failure(.malformed), "prefix of \(end) bytes")
        }
        #expect(decode(whole) == .success(.subscribe(channel: "presence-a", auth: "k:s", channelData: #"{"user_id":1}"#)))
    }

    @Test func channelNamesFollowThePusherRules() {
        #expect(PusherChannelKind(name: "news") == .public)
        #expect(PusherChannelKind(name: "private-a=b@c,d.e;f_g-h") == .private)
        #expect(PusherChannelKind(name: "presence-room") == .presence)
        #expect(PusherChannelKind(name: "#server-to-user-42") == .user(id: "42"))
        #expect(PusherChannelKind(name: String(repeating: "a", count: 200)) == .public)
        for bad in ["", "a b", "a/b", "é", String(repeating: "a", count: 201), "#server-to-user-", "#other"] {
            #expect(PusherChannelKind(name: bad) == nil, "\(bad)")
        }
    }

    @Test func presenceChannelDataNeedsAUserIDAsAStringOrANumber() {
        #expect(PresenceMember(channelData: #"{"user_id":"7","user_info":{"n":1}}"#) == PresenceMember(userID: "7", userInfo: Array(#"{"n":1}"#.utf8)))
        #expect(PresenceMember(channelData: #"{"user_id":7}"#) == PresenceMember(userID: "7", userInfo: nil))
        #expect(PresenceMember(channelData: #"{"user_id":""}"#) == nil)
        #expect(PresenceMember(channelData: #"{"user_info":{}}"#) == nil)
        #expect(PresenceMember(channelData: "nope") == nil)
        #expect(SigninUserData(#"{"id":"42","name":"x"}"#)?.id == "42")
        #expect(SigninUserData(#"{"id":42}"#) == nil)  // pusher-js drops a numeric id too
        #expect(SigninUserData(#"{"id":"42","watchlist":["1",2,"\u0033"]}"#)?.watchlist == ["1", "2", "3"])
        #expect(SigninUserData(#"{"id":"42","watchlist":null}"#)?.watchlist == nil)
        #expect(SigninUserData(#"{"id":"42","watchlist":"1"}"#) == nil)
        #expect(SigninUserData(#"{"id":"42","watchlist":[["1"]]}"#) == nil)
        let full = SigninUserData(#"{"id":"42","watchlist":["# + (0...100).map { "\"\($0)\"" }.joined(separator: ",") + "]}")
        #expect(full?.watchlistTooLong == true)
        #expect(SigninUserData(#"{"id":"42","watchlist":["# + (1...100).map { "\"\($0)\"" }.joined(separator: ",") + "]}")?.watchlist?.count == 100)
    }

    // The worked examples of the Pusher documentation (channel authorisation, REST API signing).
    static let docs = PusherApp(settings: PusherAppSettings(id: "3", key: "278d425bdf160c739803", secret: "7ad3773142a6692b25b8"))

    @Test func aPrivateChannelSignatureMatchesTheDocumentation() {
        let auth = "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        #expect(Self.docs.signer.isAuth(auth, key: Self.docs.key, of: "1234.1234:private-foobar"))
        #expect(!Self.docs.signer.isAuth(auth, key: Self.docs.key, of: "1234.1235:private-foobar"))
        #expect(!Self.docs.signer.isAuth(auth.uppercased(), key: Self.docs.key, of: "1234.1234:private-foobar"))  // the key is compared exactly
    }

    @Test func anAPIRequestSignatureMatchesTheDocumentation() throws {
        let body = Array(#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#.utf8)
        let query = "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f"
            + "&auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
        let verified = PusherRequestVerifier.verify(method: "POST", path: "/apps/3/events", query: Substring(query), body: body, app: Self.docs, now: 1353088179)
        #expect(try verified.get()["auth_key"] == "278d425bdf160c739803")
        // The same request 601 s later, with another body, or on another path is refused.
        let late = PusherRequestVerifier.verify(method: "POST", path: "/apps/3/events", query: Substring(query), body: body, app: Self.docs, now: 1353088780)
        #expect(late == .failure(PusherAPIError(status: 401, message: "Timestamp expired: given 1353088179, now 1353088780")))
        #expect(PusherRequestVerifier.verify(method: "POST", path: "/apps/3/events", query: Substring(query), body: body + [0x20], app: Self.docs, now: 1353088179)
            == .failure(PusherAPIError(status: 401, message: "body_md5 does not match the body")))
        #expect(PusherRequestVerifier.verify(method: "POST", path: "/apps/3/batch_events", query: Substring(query), body: body, app: Self.docs, now: 1353088179)
            == .failure(PusherAPIError(status: 401, message: "Invalid signature")))
    }

    @Test(arguments: ["-9223372036854775808", "9223372036854775807"])
    func anyTimestampIsRefusedWithoutOverflowing(_ timestamp: String) {
        let query = "auth_key=278d425bdf160c739803&auth_timestamp=\(timestamp)&auth_version=1.0&auth_signature=00"
        let verdict = PusherRequestVerifier.verify(method: "GET", path: "/apps/3/channels", query: Substring(query), body: [], app: Self.docs, now: 1353088179)
        #expect((try? verdict.get()) == nil)
    }

    @Test func decodedSeparatorsInTheQueryAreRefused() {
        #expect(PusherRequestVerifier.parameters("a=1&b=2")?.count == 2)
        #expect(PusherRequestVerifier.parameters("a=1%26b%3D2") == nil)
        #expect(PusherRequestVerifier.parameters("a%3D=1") == nil)
    }

    @Test func socketIDsAreTwoRandomNumbers() throws {
        let first = try #require(PusherSocketID.make())
        let second = try #require(PusherSocketID.make())
        #expect(first != second)
        #expect(PusherSocketID.isValid(first) && PusherSocketID.isValid("123.456"))
        for bad in ["123", "1.2.3", ".1", "1.", "a.1", "1.-1"] { #expect(!PusherSocketID.isValid(bad)) }
    }
}
