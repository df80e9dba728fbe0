import Crypto
import EventSchema
import Foundation
import JWTKit

/// Mints bearer tokens with the issuer's private key: what an identity provider does for a real
/// deployment, here for the local stack, the load generator and the tests (`saga-admin token`).
public struct TokenIssuer: Sendable {
    public let keyId: String
    public let issuer: String
    public let audience: String
    private let key: Curve25519.Signing.PrivateKey

    public init(keyId: String, key: Curve25519.Signing.PrivateKey, issuer: String, audience: String) {
        self.keyId = keyId
        self.key = key
        self.issuer = issuer
        self.audience = audience
    }

    /// Reads a private JWK file (`kty` OKP, `crv` Ed25519, with `d`), as `saga-admin keys init` writes it.
    public init(privateJWKFile path: String, issuer: String, audience: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw KeyFileError.unreadable(path: path, reason: error.localizedDescription)
        }
        let jwk = try PrivateJWK(json: data, path: path)
        self.init(keyId: jwk.kid, key: jwk.key, issuer: issuer, audience: audience)
    }

    public var publicJWK: PublicJWK { PublicJWK(kid: keyId, x: Base64URL.encode(Array(key.publicKey.rawRepresentation))) }

    /// A signed token for `subject` with `roles`, valid from `now` for `lifetime`.
    public func token(subject: String, roles: [Role], lifetime: Duration = .seconds(3600), now: Date = Date()) async throws -> String {
        guard Principal.isValidSubject(subject) else { throw KeyFileError.invalid("subject '\(subject)' is not 1 to 128 visible ASCII characters") }
        let claims = AccessTokenClaims(issuer: issuer, subject: subject, audience: audience, roles: roles,
                                       notBefore: now, expires: now.addingTimeInterval(TimeInterval(lifetime.components.seconds)))
        let keys = JWTKeyCollection()
        await keys.add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: keyId))
        var header = JWTHeader()
        header.typ = "JWT"
        return try await keys.sign(claims, kid: JWKIdentifier(string: keyId), header: header)
    }

    /// The private JWK file's JSON (write it with `KeyFiles.writePrivate`).
    public func privateJWKJSON() throws -> Data {
        try PrivateJWK(kid: keyId, key: key).json()
    }
}

/// A public Ed25519 JWK, as a JWKS lists it.
public struct PublicJWK: Codable, Sendable, Hashable {
    public var kty = "OKP"
    public var crv = "Ed25519"
    public var alg = TokenVerifier.algorithm
    public var use = "sig"
    public var kid: String
    public var x: String

    public init(kid: String, x: String) {
        self.kid = kid
        self.x = x
    }
}

/// A JWKS document: `{"keys": [...]}`.
public struct PublicJWKS: Codable, Sendable {
    public var keys: [PublicJWK]

    public init(keys: [PublicJWK]) { self.keys = keys }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}

struct PrivateJWK {
    let kid: String
    let key: Curve25519.Signing.PrivateKey

    private struct Shape: Codable {
        var kty: String
        var crv: String
        var alg: String?
        var kid: String
        var x: String
        var d: String
    }

    init(kid: String, key: Curve25519.Signing.PrivateKey) {
        self.kid = kid
        self.key = key
    }

    init(json: Data, path: String) throws {
        guard let shape = try? JSONDecoder().decode(Shape.self, from: json), shape.kty == "OKP", shape.crv == "Ed25519",
              let raw = Base64URL.decode(shape.d), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw KeyFileError.invalid("\(path) is not a private Ed25519 JWK (kty OKP, crv Ed25519, kid, x, d)")
        }
        guard !shape.kid.isEmpty else { throw KeyFileError.invalid("\(path): the JWK has no kid") }
        self.init(kid: shape.kid, key: key)
    }

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(Shape(kty: "OKP", crv: "Ed25519", alg: TokenVerifier.algorithm, kid: kid,
                                        x: Base64URL.encode(Array(key.publicKey.rawRepresentation)),
                                        d: Base64URL.encode(Array(key.rawRepresentation))))
    }
}
