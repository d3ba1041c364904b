// Token verification: the price of every browser's first message before it is subscribed.
import Adapters
import Application
import Benchmark
import Domain

func registerTokenVerificationBenchmarks() {
    // As at start-up (App/Wiring.swift), so no iteration pays for reading openssl.cnf.
    OpenSSLDigest.initialize()
    let authenticator = OpenSSLHMAC(secret: Fixtures.secret)
    // `verify` reads only the authenticator, the claims decoder and the clock; the stores are
    // there because the use case needs them to exist.
    let authenticate = AuthenticateSubscriber(
        topics: InMemoryTopicStore(), authenticator: authenticator, claimsDecoder: JSONClaimsDecoder(),
        statistics: InMemorySubscriptionStatistics(), clock: SystemClock())
    let token = Fixtures.token
    let topic = Fixtures.topic
    requireFixture((try? authenticate.verify(token, for: topic).get()) != nil, "the token is refused")

    Benchmark("Token: verify a valid token") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(authenticate.verify(token, for: topic))
        }
    }

    // The HMAC alone, to tell OpenSSL's share from the hex, JSON and claim rules around it.
    let signedPart = SignedToken(token)!.signedPart
    Benchmark("Token: HMAC-SHA256 of the signed part") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(signedPart.withUnsafeBytes { authenticator.authenticationCode(for: $0) })
        }
    }
}
