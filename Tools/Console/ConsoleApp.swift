import AsyncHTTPClient
import Credentials
import DeadLetterQueue
import Foundation
import Hummingbird
import Kafka
import Logging
import SagaAPI
import SagaTimeline
import ServiceKit

/// Where an order page gets the order's records: `OrderRecordReader` against the brokers, or
/// fixture records in the tests.
protocol OrderRecordSource: Sendable {
    func read(orderId: String, within plan: [String: Range<Int64>]) async throws -> OrderRecordReader.Contents
}

extension OrderRecordReader: OrderRecordSource {}

/// Sends dead letters back to their origin: `DeadLetterReplayer`, the code `kafka-tool
/// deadletters replay` runs, or a recorder in the tests.
protocol DeadLetterReplaying: Sendable {
    func replay(_ letters: [DeadLetterRecord]) async throws -> [(DeadLetterRecord, DeadLetterReplayer.Outcome)]
}

extension DeadLetterReplayer: DeadLetterReplaying {}

/// Everything the console's routes read and act through. `ConsoleCommand` makes the real ones;
/// the tests make their own and call the router in process.
struct ConsoleDependencies: Sendable {
    var index: SagaIndex
    var sessions: SessionStore
    var verifier: TokenVerifier
    var directory: ServiceDirectory
    var client: ServiceClient
    var records: any OrderRecordSource
    /// Nil when the console was started without an operator's event key: replays are refused.
    var replayer: (any DeadLetterReplaying)?
    /// Alertmanager's base URL, for the alerts page.
    var alertmanagerURL: String?
    /// Jaeger's UI, for links to an order's trace.
    var jaegerURL: String?
    var actions: ActionLog
    var logger: Logger
}

/// The console's HTTP application, put together and not started (`ConsoleCommand` runs it).
enum ConsoleApp {
    /// Every route is registered with its policy through `EdgeRoutes`: only the sign-in form,
    /// the stylesheet and script, and the redirect from `/` are open; every page and every action
    /// is for operators.
    static func buildRouter(_ dependencies: ConsoleDependencies) -> (router: Router<EdgeContext>, routes: EdgeRoutes) {
        let router = Router(context: EdgeContext.self)
        router.middlewares.add(SecurityHeaders())
        router.middlewares.add(ProblemPages())
        router.middlewares.add(ProblemMiddleware())
        router.middlewares.add(ConsoleAuthenticator(sessions: dependencies.sessions, verifier: dependencies.verifier))
        let routes = EdgeRoutes(router: router)
        let layout = Layout(index: dependencies.index)
        AssetRoutes().add(to: routes)
        SignInRoutes(sessions: dependencies.sessions, verifier: dependencies.verifier, logger: dependencies.logger).add(to: routes)
        OrderRoutes(dependencies: dependencies, layout: layout).add(to: routes)
        DeadLetterRoutes(dependencies: dependencies, layout: layout).add(to: routes)
        ServiceRoutes(dependencies: dependencies, layout: layout).add(to: routes)
        LiveRoutes(dependencies: dependencies, layout: layout).add(to: routes)
        return (router, routes)
    }
}

/// Who is asking: a session cookie (the browser) or an `Authorization: Bearer` token (curl,
/// scripts). Either is verified on every request.
struct ConsoleAuthenticator: RouterMiddleware {
    typealias Context = EdgeContext
    let sessions: SessionStore
    let verifier: TokenVerifier

    func handle(_ request: Request, context: EdgeContext,
                next: (Request, EdgeContext) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            let prefix = "bearer "
            if header.count > prefix.count, header.lowercased().hasPrefix(prefix) {
                do {
                    context.identity = try await verifier.verify(String(header.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces))
                } catch {
                    context.logger.notice("bearer token refused: \(error)", metadata: ["path": "\(request.uri.path)"])
                }
            }
        } else if let session = sessions.session(of: request) {
            do {
                context.identity = try await verifier.verify(session.token)
            } catch {
                sessions.end(session.id)
                context.logger.notice("session ended: its token no longer verifies: \(error)")
            }
        }
        return try await next(request, context)
    }
}

/// The actor of an action: the signed-in operator. A form posted from a browser session must
/// carry that session's CSRF token; a request with a bearer token carries no ambient credential
/// (nothing a foreign page can make a browser send), so it needs none.
struct ActingOperator: Sendable {
    let subject: String
    /// The token the services are called with, in the operator's name.
    let token: String
    let csrf: String?

    static func of(_ request: Request, form: Form, caller: Caller, sessions: SessionStore) throws -> ActingOperator {
        if let header = request.headers[.authorization] {
            return ActingOperator(subject: caller.principal.subject,
                                  token: String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces), csrf: nil)
        }
        let session = try form.requireCSRF(of: request, sessions: sessions)
        return ActingOperator(subject: caller.principal.subject, token: session.token, csrf: session.csrf)
    }

    /// For pages (GET): the token to call the services with and the CSRF token to put in forms.
    static func reading(_ request: Request, caller: Caller, sessions: SessionStore) -> ActingOperator {
        if let header = request.headers[.authorization] {
            return ActingOperator(subject: caller.principal.subject,
                                  token: String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces), csrf: nil)
        }
        let session = sessions.session(of: request)
        return ActingOperator(subject: caller.principal.subject, token: session?.token ?? "", csrf: session?.csrf)
    }

    /// The hidden field every form of a page carries.
    var csrfField: HTML {
        csrf.map { "<input type=\"hidden\" name=\"csrf\" value=\"\($0)\">" } ?? .empty
    }
}

/// What operators did through the console: kept for the Actions page and written to the log
/// (`notice`, with who did it), as the services log an offset reset.
final class ActionLog: @unchecked Sendable {
    struct Entry: Sendable {
        var atMs: Int64
        var subject: String
        var action: String
        var outcome: String
    }

    static let kept = 500
    private let lock = NSLock()
    private var entries: [Entry] = []
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func record(subject: String, action: String, outcome: String) {
        let entry = Entry(atMs: Int64(Date().timeIntervalSince1970 * 1000), subject: subject, action: action, outcome: outcome)
        lock.withLock {
            entries.append(entry)
            if entries.count > Self.kept { entries.removeFirst(entries.count - Self.kept) }
        }
        logger.notice("operator action", metadata: ["operator": "\(subject)", "action": "\(action)", "outcome": "\(outcome)"])
    }

    var recent: [Entry] { lock.withLock { entries.reversed() } }
}

/// Paging of the console's listings: `?page=N` (from 1), a fixed page size.
struct Paging: Sendable {
    static let pageSize = 50
    let page: Int

    init(_ request: Request) throws {
        if let text = request.uri.queryParameters.get("page"), !text.isEmpty {
            guard let value = Int(text), (1...1_000_000).contains(value) else {
                throw Problem.badRequest("page must be a number from 1, got '\(text.prefix(40))'")
            }
            page = value
        } else {
            page = 1
        }
    }

    var offset: Int { (page - 1) * Self.pageSize }

    /// Previous / next links that keep the page's other parameters.
    func links(path: String, query: [(String, String?)], more: Bool) -> HTML {
        var parts: [HTML] = []
        if page > 1 { parts.append("<a rel=\"prev\" href=\"\(path + URLText.query(query + [("page", String(page - 1))]))\">← newer</a>") }
        parts.append("<span>page \(page)</span>")
        if more { parts.append("<a rel=\"next\" href=\"\(path + URLText.query(query + [("page", String(page + 1))]))\">older →</a>") }
        return "<nav class=\"pager\">\(parts)</nav>"
    }
}
