import Foundation
import JWTKit

/// The claims of the platform's bearer tokens (RFC 7519): who (`sub`), for which deployment
/// (`iss`, `aud`), when (`nbf`, `exp`, `iat`), and as what (`roles`).
public struct AccessTokenClaims: JWTPayload, Equatable {
    public var iss: IssuerClaim
    public var sub: SubjectClaim
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var nbf: NotBeforeClaim?
    public var iat: IssuedAtClaim?
    public var jti: IDClaim?
    public var roles: [String]

    public init(issuer: String, subject: String, audience: String, roles: [Role], notBefore: Date, expires: Date,
                id: String = UUID().uuidString.lowercased()) {
        iss = .init(value: issuer)
        sub = .init(value: subject)
        aud = .init(value: [audience])
        exp = .init(value: expires)
        nbf = .init(value: notBefore)
        iat = .init(value: notBefore)
        jti = .init(value: id)
        self.roles = roles.map(\.rawValue)
    }

    /// jwt-kit calls this after the signature holds; the time, issuer and audience checks need
    /// the verifier's clock, leeway and configuration, so `TokenVerifier` makes them.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Why a bearer token was refused. The text goes to the log; the caller learns only that its
/// credentials were not accepted (and, in `WWW-Authenticate`, the coarse reason RFC 6750 allows).
public enum TokenRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case algorithmNotAllowed(String)
    case unknownKey(String)
    case badSignature
    case expired
    case notYetValid
    case wrongIssuer(String)
    case wrongAudience([String])
    case noRole
    case invalidSubject

    public var description: String {
        switch self {
        case .malformed(let why): "malformed token: \(why)"
        case .algorithmNotAllowed(let alg): "algorithm \(alg) is not accepted (only EdDSA)"
        case .unknownKey(let kid): "no key '\(kid)' in the JWKS"
        case .badSignature: "the signature does not verify"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet (nbf)"
        case .wrongIssuer(let iss): "issuer '\(iss)' is not the one this service trusts"
        case .wrongAudience(let aud): "audience \(aud) does not include this service's"
        case .noRole: "the token carries no role this platform knows"
        case .invalidSubject: "the subject is not 1 to 128 visible ASCII characters"
        }
    }
}
