import EventSchema
import Foundation
import JWTKit

/// Checks bearer tokens: EdDSA only (the algorithm is pinned: `none`, HMAC and every other
/// `alg` are refused before any key is looked at, so a public key can never be used as an HMAC
/// secret), the `kid` must name a key of the JWKS (no fallback to "some key"), then the
/// signature, `iss`, `aud`, `exp` and `nbf` (with `leeway` for clocks a little apart), a known
/// role and a plain subject.
public final class TokenVerifier: Sendable {
    public struct Configuration: Sendable {
        public var issuer: String
        public var audience: String
        public var leeway: Duration

        public init(issuer: String, audience: String, leeway: Duration = .seconds(30)) {
            self.issuer = issuer
            self.audience = audience
            self.leeway = leeway
        }
    }

    public static let algorithm = "EdDSA"

    public let configuration: Configuration
    private let keys: JWKSSource
    private let now: @Sendable () -> Date
    /// Tokens whose signature held, so that a client's next requests with the same token cost a
    /// lookup instead of an Ed25519 verification. Times are checked on every use; a change of
    /// the JWKS (a key removed or rotated) makes every remembered token verify again.
    private let verified = VerifiedTokens(capacity: 4096)

    public init(keys: JWKSSource, configuration: Configuration, now: @escaping @Sendable () -> Date = Date.init) {
        self.keys = keys
        self.configuration = configuration
        self.now = now
    }

    public func verify(_ token: String) async throws(TokenRejection) -> Principal {
        // A token verified before under the key set still current: its header was read then.
        if let known = verified.lookup(token), let current = await keys.collection(containing: known.entry.kid),
           current.version == known.keys {
            try checkTimes(expires: known.entry.expires, notBefore: known.entry.notBefore)
            return known.entry.principal
        }
        let header = try Self.header(of: token)
        guard header.alg == Self.algorithm else { throw .algorithmNotAllowed(header.alg ?? "(none)") }
        guard let kid = header.kid, !kid.isEmpty else { throw .malformed("no kid in the header") }
        let current = await keys.collection(containing: kid)
        guard let current else { throw .unknownKey(String(kid.prefix(64))) }
        let claims: AccessTokenClaims
        do {
            claims = try await current.keys.verify(token, as: AccessTokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .badSignature
        } catch {
            throw .malformed("\(error)")
        }
        try checkTimes(expires: claims.exp.value, notBefore: claims.nbf?.value)
        guard claims.iss.value == configuration.issuer else { throw .wrongIssuer(String(claims.iss.value.prefix(100))) }
        guard claims.aud.value.contains(configuration.audience) else { throw .wrongAudience(claims.aud.value.map { String($0.prefix(100)) }) }
        guard Principal.isValidSubject(claims.sub.value) else { throw .invalidSubject }
        let roles = Set(claims.roles.compactMap(Role.init(rawValue:)))
        guard !roles.isEmpty else { throw .noRole }
        let principal = Principal(subject: claims.sub.value, roles: roles)
        verified.remember(token, .init(principal: principal, kid: kid, expires: claims.exp.value, notBefore: claims.nbf?.value),
                          keys: current.version)
        return principal
    }

    private func checkTimes(expires: Date, notBefore: Date?) throws(TokenRejection) {
        let now = now()
        let leeway = TimeInterval(configuration.leeway.components.seconds)
        guard expires.addingTimeInterval(leeway) > now else { throw .expired }
        if let notBefore, notBefore.addingTimeInterval(-leeway) > now { throw .notYetValid }
    }

    struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    /// The JOSE header, read before anything is trusted, only to pick the algorithm and key.
    static func header(of token: String) throws(TokenRejection) -> Header {
        guard token.utf8.count <= 8192 else { throw .malformed("longer than 8192 bytes") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("not three dot-separated parts") }
        guard let bytes = Base64URL.decodeLenient(String(parts[0])),
              let header = try? JSONDecoder().decode(Header.self, from: Data(bytes)) else {
            throw .malformed("the header is not base64url JSON")
        }
        return header
    }
}

extension Base64URL {
    /// Also accepts the padding some encoders leave on.
    static func decodeLenient(_ text: String) -> [UInt8]? {
        decode(text.hasSuffix("=") ? String(text.prefix { $0 != "=" }) : text)
    }
}

/// Verified tokens of one key-set version, at most `capacity` of them: when full, all are
/// forgotten at once (they verify again on their next use; nothing is ever wrongly accepted).
final class VerifiedTokens: @unchecked Sendable {
    struct Known {
        var principal: Principal
        var kid: String
        var expires: Date
        var notBefore: Date?
    }

    private let capacity: Int
    private let lock = NSLock()
    private var version: UUID?
    private var known: [String: Known] = [:]

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The token's entry and the key-set version it was verified under.
    func lookup(_ token: String) -> (entry: Known, keys: UUID)? {
        lock.withLock {
            guard let version, let entry = known[token] else { return nil }
            return (entry, version)
        }
    }

    func remember(_ token: String, _ entry: Known, keys: UUID) {
        lock.withLock {
            if version != keys || known.count >= capacity {
                known.removeAll(keepingCapacity: true)
                version = keys
            }
            known[token] = entry
        }
    }
}
