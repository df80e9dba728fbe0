import Credentials
import Hummingbird
import HummingbirdAuth
import Logging

/// Reads the `Authorization: Bearer` token of every request and, when it verifies, puts the
/// caller in the context. A refused token leaves the reason in the context (the route answers
/// 401) and in the log, never in the response: a stranger learns only that it was not accepted.
struct BearerAuthenticator: RouterMiddleware {
    typealias Context = EdgeContext
    let verifier: TokenVerifier

    func handle(_ request: Request, context: EdgeContext,
                next: (Request, EdgeContext) async throws -> Response) async throws -> Response {
        guard request.headers[.authorization] != nil else { return try await next(request, context) }
        var context = context
        if let bearer = request.headers.bearer {
            do {
                context.identity = try await verifier.verify(bearer.token)
            } catch {
                context.rejection = error
                context.logger.notice("bearer token refused: \(error)", metadata: ["path": "\(request.uri.path)"])
            }
        } else {
            context.rejection = .malformed("the Authorization header is not `Bearer <token>`")
        }
        return try await next(request, context)
    }
}
