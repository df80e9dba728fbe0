import ArgumentParser
import Credentials
import Foundation

/// `saga-admin`: the keys of a deployment and the tokens its callers present.
@main
struct SagaAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saga-admin",
        abstract: "Make a deployment's keys and mint bearer tokens for its customers, operators, auditor and monitor.",
        subcommands: [Keys.self, Token.self])
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Key material: the token issuer's key pair and JWKS, every event signer's key and the keyring.",
        subcommands: [Init.self, SignatureCost.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a fresh set of keys into a folder (private keys 0600): token-issuer.jwk, jwks.json, events/<owner>.key, keyring.json.")
        @Option(help: "Folder to write the keys into (created if missing).") var dir: String
        @Option(help: "The iss of the tokens minted with this set.") var issuer = "order-saga"
        @Option(help: "The aud of the tokens minted with this set.") var audience = "order-saga"
        @Flag(help: "Replace keys that are already there (every token and signature made with them stops being accepted).")
        var replace = false

        func run() throws {
            let directory = URL(fileURLWithPath: dir)
            let made = try KeyMaterial.create(in: directory, issuer: issuer, audience: audience, replace: replace)
            print("wrote \(directory.path): token key \(made.issuer.keyId), event keys \(made.signers.map(\.keyId).joined(separator: ", "))")
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a bearer token signed with the issuer's key.",
        discussion: """
            A customer token's subject is the customer id (it places and reads that customer's orders only); \
            operator, auditor and monitor tokens name whoever holds them.

              TOKEN=$(saga-admin token --keys run/x/keys --role customer --subject C-00001)
              curl -H "Authorization: Bearer $TOKEN" localhost:8080/orders
            """)
    @Option(help: "The folder of `keys init` (its token-issuer.jwk signs the token).") var keys: String
    @Option(help: "customer, operator, auditor or monitor (repeatable).") var role: [String] = []
    @Option(help: "Who the token is for: the customer id for a customer.") var subject: String
    @Option(help: "How long the token is valid, in seconds.") var ttlSeconds = 3600
    @Option(help: "The iss the services expect.") var issuer = "order-saga"
    @Option(help: "The aud the services expect.") var audience = "order-saga"

    func validate() throws {
        guard !role.isEmpty else { throw ValidationError("give at least one --role: \(Role.allCases.map(\.rawValue).joined(separator: ", "))") }
        for name in role where Role(rawValue: name) == nil {
            throw ValidationError("--role \(name) is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...31_536_000).contains(ttlSeconds) else { throw ValidationError("--ttl-seconds must be 1...31536000 (a year)") }
        guard Principal.isValidSubject(subject) else { throw ValidationError("--subject must be 1 to 128 visible ASCII characters") }
    }

    func run() async throws {
        let file = URL(fileURLWithPath: keys).appendingPathComponent(KeyMaterial.tokenIssuerFile).path
        let issuerKey = try TokenIssuer(privateJWKFile: file, issuer: issuer, audience: audience)
        print(try await issuerKey.token(subject: subject, roles: role.compactMap(Role.init(rawValue:)),
                                        lifetime: .seconds(ttlSeconds)))
    }
}
