import Crypto
import Credentials
import EventSchema
import Foundation
import Testing

/// Tokens an attacker would try, each refused for its own reason; a good token, and one that
/// expired within the leeway, accepted.
@Suite struct TokenAttackTests {
    let directory: URL
    let issuer: TokenIssuer
    let keys: JWKSSource
    let verifier: TokenVerifier

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)")
        issuer = try KeyMaterial.create(in: directory, issuer: "order-saga", audience: "order-saga").issuer
        keys = try await JWKSSource.open(directory.appendingPathComponent(KeyMaterial.jwksFile).path)
        verifier = TokenVerifier(keys: keys, configuration: .init(issuer: "order-saga", audience: "order-saga"))
    }

    @Test func aGoodTokenNamesItsCaller() async throws {
        let token = try await issuer.token(subject: "C-00001", roles: [.customer])
        let principal = try await verifier.verify(token)
        #expect(principal == Principal(subject: "C-00001", roles: [.customer]))
    }

    @Test func anExpiredTokenIsRefusedBeyondTheLeewayOnly() async throws {
        let expiredLongAgo = try await issuer.token(subject: "C-1", roles: [.customer], lifetime: .seconds(60), now: Date().addingTimeInterval(-3600))
        await #expect(throws: TokenRejection.expired) { try await verifier.verify(expiredLongAgo) }
        let justExpired = try await issuer.token(subject: "C-1", roles: [.customer], lifetime: .seconds(60), now: Date().addingTimeInterval(-70))
        #expect(try await verifier.verify(justExpired).subject == "C-1")
    }

    @Test func aTokenFromTheFutureIsRefused() async throws {
        let early = try await issuer.token(subject: "C-1", roles: [.customer], now: Date().addingTimeInterval(600))
        await #expect(throws: TokenRejection.notYetValid) { try await verifier.verify(early) }
    }

    @Test func aTokenForAnotherAudienceOrFromAnotherIssuerIsRefused() async throws {
        let key = try #require(try privateKey())
        let otherAudience = TokenIssuer(keyId: issuer.keyId, key: key, issuer: "order-saga", audience: "billing")
        await #expect(throws: TokenRejection.wrongAudience(["billing"])) {
            try await verifier.verify(try await otherAudience.token(subject: "C-1", roles: [.customer]))
        }
        let otherIssuer = TokenIssuer(keyId: issuer.keyId, key: key, issuer: "evil", audience: "order-saga")
        await #expect(throws: TokenRejection.wrongIssuer("evil")) {
            try await verifier.verify(try await otherIssuer.token(subject: "C-1", roles: [.customer]))
        }
    }

    @Test func algNoneIsRefusedBeforeAnyKeyIsLookedAt() async throws {
        let token = Self.unsigned(header: #"{"alg":"none","kid":"\#(issuer.keyId)"}"#, claims: claims()) + "."
        await #expect(throws: TokenRejection.algorithmNotAllowed("none")) { try await verifier.verify(token) }
        let noAlg = Self.unsigned(header: #"{"kid":"\#(issuer.keyId)"}"#, claims: claims()) + "."
        await #expect(throws: TokenRejection.algorithmNotAllowed("(none)")) { try await verifier.verify(noAlg) }
    }

    /// The classic confusion: an HMAC token whose secret is the server's public key.
    @Test func hs256SignedWithThePublicKeyIsRefused() async throws {
        let jwks = try Data(contentsOf: directory.appendingPathComponent(KeyMaterial.jwksFile))
        let x = try #require(((try JSONSerialization.jsonObject(with: jwks) as? [String: Any])?["keys"] as? [[String: Any]])?.first?["x"] as? String)
        for secret in [Data(x.utf8), Data(Base64URL.decode(x) ?? []), jwks] {
            let input = Self.unsigned(header: #"{"alg":"HS256","kid":"\#(issuer.keyId)"}"#, claims: claims())
            let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: secret))
            let token = input + "." + Base64URL.encode(Array(mac))
            await #expect(throws: TokenRejection.algorithmNotAllowed("HS256")) { try await verifier.verify(token) }
        }
    }

    @Test func aTokenSignedWithAnotherKeyIsRefused() async throws {
        // The attacker knows the key id (it is in every token) but not the key.
        let forger = TokenIssuer(keyId: issuer.keyId, key: .init(), issuer: "order-saga", audience: "order-saga")
        await #expect(throws: TokenRejection.badSignature) {
            try await verifier.verify(try await forger.token(subject: "C-1", roles: [.operator]))
        }
        let ownKey = TokenIssuer(keyId: "attacker-1", key: .init(), issuer: "order-saga", audience: "order-saga")
        await #expect(throws: TokenRejection.unknownKey("attacker-1")) {
            try await verifier.verify(try await ownKey.token(subject: "C-1", roles: [.operator]))
        }
    }

    @Test func aChangedClaimBreaksTheSignature() async throws {
        let token = try await issuer.token(subject: "C-1", roles: [.customer])
        let parts = token.split(separator: ".").map(String.init)
        let raised = Base64URL.encode(Array(claims(subject: "C-1", roles: ["operator"]).utf8))
        await #expect(throws: TokenRejection.badSignature) { try await verifier.verify([parts[0], raised, parts[2]].joined(separator: ".")) }
    }

    @Test func garbageAndTokensWithoutARoleAreRefused() async throws {
        for junk in ["", "abc", "a.b", "a.b.c.d", String(repeating: "x", count: 9000)] {
            await #expect(throws: TokenRejection.self) { try await verifier.verify(junk) }
        }
        let roleless = try await issuer.token(subject: "C-1", roles: [])
        await #expect(throws: TokenRejection.noRole) { try await verifier.verify(roleless) }
    }

    @Test func aJWKSWithAPrivateKeyOrAnotherKeyTypeIsRefusedAtStart() async throws {
        let bad = directory.appendingPathComponent("bad-jwks.json")
        try issuer.privateJWKJSON().wrapped().write(to: bad)
        await #expect(throws: KeyFileError.self) { _ = try await JWKSSource.open(bad.path) }
        try Data(#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#.utf8).write(to: bad)
        await #expect(throws: KeyFileError.self) { _ = try await JWKSSource.open(bad.path) }
    }

    /// A rotated-in key is picked up from the file without a restart, and a broken file does
    /// not lock anybody out (the previous keys stay).
    @Test func theJWKSFileIsReadAgainWhenItChanges() async throws {
        let newKey = TokenIssuer(keyId: "tokens-next", key: .init(), issuer: "order-saga", audience: "order-saga")
        let token = try await newKey.token(subject: "op", roles: [.operator])
        await #expect(throws: TokenRejection.unknownKey("tokens-next")) { try await verifier.verify(token) }
        let file = directory.appendingPathComponent(KeyMaterial.jwksFile)
        try KeyFiles.writePublic(try PublicJWKS(keys: [issuer.publicJWK, newKey.publicJWK]).json(), to: file)
        try await waitUntil("the new key is taken") { (try? await verifier.verify(token)) != nil }
        try KeyFiles.writePublic(Data("not json".utf8), to: file)
        try await waitUntil("the broken file is seen") { _ = try? await verifier.verify(token); return keys.problem != nil }
        #expect(try await verifier.verify(token).subject == "op", "the last good keys stay in use")
    }

    /// A token the verifier accepted (and remembers, so its next use costs no signature check)
    /// is still refused once it expires, and once its key leaves the JWKS.
    @Test func aRememberedTokenStillExpiresAndDiesWithItsKey() async throws {
        let clock = TestClock(Date())
        let timed = TokenVerifier(keys: keys, configuration: .init(issuer: "order-saga", audience: "order-saga", leeway: .seconds(5)),
                                  now: { clock.now })
        let token = try await issuer.token(subject: "C-1", roles: [.customer], lifetime: .seconds(60), now: clock.now)
        #expect(try await timed.verify(token).subject == "C-1")
        #expect(try await timed.verify(token).subject == "C-1")
        clock.now = clock.now.addingTimeInterval(66)
        await #expect(throws: TokenRejection.expired) { try await timed.verify(token) }

        let fresh = try await issuer.token(subject: "op", roles: [.operator])
        #expect(try await verifier.verify(fresh).subject == "op")
        let other = TokenIssuer(keyId: "tokens-other", key: .init(), issuer: "order-saga", audience: "order-saga")
        try KeyFiles.writePublic(try PublicJWKS(keys: [other.publicJWK]).json(), to: directory.appendingPathComponent(KeyMaterial.jwksFile))
        try await waitUntil("the removed key's token is refused") {
            do { _ = try await verifier.verify(fresh); return false } catch { return (error as? TokenRejection) == .unknownKey(issuer.keyId) }
        }
    }

    // MARK: helpers

    func privateKey() throws -> Curve25519.Signing.PrivateKey? {
        let object = try JSONSerialization.jsonObject(with: try issuer.privateJWKJSON()) as? [String: Any]
        return (object?["d"] as? String).flatMap(Base64URL.decode).flatMap { try? Curve25519.Signing.PrivateKey(rawRepresentation: $0) }
    }

    func claims(subject: String = "C-1", roles: [String] = ["customer"]) -> String {
        let now = Int(Date().timeIntervalSince1970)
        let roleList = roles.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"iss":"order-saga","sub":"\#(subject)","aud":["order-saga"],"exp":\#(now + 600),"nbf":\#(now - 10),"roles":[\#(roleList)]}"#
    }

    static func unsigned(header: String, claims: String) -> String {
        Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
    }
}

final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date) { current = start }
    var now: Date {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// Generous: Swift Testing runs the suites in parallel, and CPU-bound property tests can starve
/// this loop's wake-ups on a loaded machine; a condition that holds returns at once.
func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out after \(timeout) waiting until \(what)")
}

private extension Data {
    /// A private JWK inside a JWKS document: what publishing the wrong file looks like.
    func wrapped() -> Data { Data("{\"keys\":[".utf8) + self + Data("]}".utf8) }
}
