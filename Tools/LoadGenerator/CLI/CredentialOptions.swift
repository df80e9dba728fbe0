import ArgumentParser
import Foundation

/// Where the deployment's keys are: the folder `saga-admin keys init` wrote (local-stack.sh
/// passes the run's), and the issuer and audience the services expect.
struct CredentialOptions: ParsableArguments {
    @Option(help: "Keys folder of the deployment (or env SAGA_KEYS_DIR): token-issuer.jwk to mint tokens, keyring.json to check who wrote each record.")
    var keys: String?
    @Option(help: "The iss the services expect (or env AUTH_ISSUER; default order-saga).") var tokenIssuer: String?
    @Option(help: "The aud the services expect (or env AUTH_AUDIENCE; default order-saga).") var tokenAudience: String?

    func keysDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        guard let path = keys ?? environment["SAGA_KEYS_DIR"].nonEmpty else {
            throw ValidationError("give --keys (or set SAGA_KEYS_DIR): the folder of `saga-admin keys init` the services were started with")
        }
        return path
    }

    func load(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> LoadCredentials {
        do {
            return try await LoadCredentials.load(
                keysDirectory: try keysDirectory(environment: environment),
                issuer: tokenIssuer ?? environment["AUTH_ISSUER"].nonEmpty ?? "order-saga",
                audience: tokenAudience ?? environment["AUTH_AUDIENCE"].nonEmpty ?? "order-saga")
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("cannot use the keys in \(try keysDirectory(environment: environment)): \(error)")
        }
    }
}
