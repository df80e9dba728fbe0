import Credentials
import Foundation

/// What the load generator proves itself with: it holds the deployment's token-issuer key (a
/// load generator impersonates customers by nature), mints each customer's token once, reads
/// the services as the auditor, and checks who wrote every record it reads with the keyring.
final class LoadCredentials: Sendable {
    let issuer: TokenIssuer
    let auditorToken: String
    let authenticator: EventAuthenticator
    private let customers = CustomerTokens()
    /// Long enough for any run with its drain and audit; the key never leaves this process.
    static let lifetime = Duration.seconds(12 * 3600)

    init(issuer: TokenIssuer, authenticator: EventAuthenticator) async throws {
        self.issuer = issuer
        self.authenticator = authenticator
        auditorToken = try await issuer.token(subject: "loadgen-audit", roles: [.auditor], lifetime: Self.lifetime)
    }

    /// Reads a keys folder as `saga-admin keys init` writes it.
    static func load(keysDirectory: String, issuer: String, audience: String) async throws -> LoadCredentials {
        let folder = URL(fileURLWithPath: keysDirectory)
        return try await LoadCredentials(
            issuer: TokenIssuer(privateJWKFile: folder.appendingPathComponent(KeyMaterial.tokenIssuerFile).path, issuer: issuer, audience: audience),
            authenticator: EventAuthenticator(keyringFile: folder.appendingPathComponent(KeyMaterial.keyringFile).path))
    }

    /// The customer's token, minted on first use.
    func customerToken(_ customerId: String) async throws -> String {
        try await customers.token(customerId) {
            try await self.issuer.token(subject: customerId, roles: [.customer], lifetime: Self.lifetime)
        }
    }
}

private actor CustomerTokens {
    private var tokens: [String: String] = [:]

    func token(_ customerId: String, mint: @Sendable () async throws -> String) async throws -> String {
        if let token = tokens[customerId] { return token }
        let token = try await mint()
        tokens[customerId] = token
        return token
    }
}
