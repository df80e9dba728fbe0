import Credentials
import Foundation
import Hummingbird
import Persistence
import SagaAPI

extension Problem {
    /// 401: no token, or one that was refused. The body says only that; the reason is logged.
    static func unauthenticated(_ rejection: TokenRejection?) -> Problem {
        let challenge = rejection == nil ? #"Bearer realm="order-saga""# : #"Bearer realm="order-saga", error="invalid_token""#
        return Problem(status: .unauthorized,
                       detail: rejection == nil ? "this endpoint needs a bearer token (Authorization: Bearer <token>)"
                           : "the bearer token was not accepted (expired, not for this service, or not signed by a trusted key)",
                       headers: [.wwwAuthenticate: challenge])
    }
}

extension ProblemMiddleware {
    /// The services' problem middleware: a transient database error (disk full, lock timeout,
    /// connection lost) is 503 with `Retry-After`: the request was not applied, and the same
    /// request may succeed in a moment. The database's words stay in the log, under the id the
    /// caller can quote.
    public static func service() -> ProblemMiddleware {
        ProblemMiddleware { error, request, context in
            guard let error = error as? SQLError, error.isTransient else { return nil }
            let reference = Self.reference()
            context.logger.error("request failed for now", metadata: [
                "path": "\(request.uri.path)", "error": "\(error)", "problem-id": "\(reference)",
            ])
            return .unavailable("nothing was applied; the service cannot take this request right now, retry in a moment (reference \(reference))",
                                retryAfterSeconds: 1)
        }
    }
}

/// `?after=<id>&limit=<n>` listings (the audit reads everything through them).
public struct PageRequest: Sendable {
    public static let maxLimit = 5000
    public var after: String?
    public var limit: Int

    public init(_ request: Request, defaultLimit: Int = 500) throws {
        after = request.uri.queryParameters.get("after")
        if let text = request.uri.queryParameters.get("limit") {
            guard let value = Int(text), (1...Self.maxLimit).contains(value) else {
                throw Problem.badRequest("limit must be an integer in 1...\(Self.maxLimit), got '\(text)'")
            }
            limit = value
        } else {
            limit = defaultLimit
        }
    }
}
