import Foundation
import Hummingbird
import NIOCore
import SagaAPI
import ServiceKit

/// The page around every view: navigation, who is signed in, the sign-out form, and the index's
/// progress while it is still reading the topics.
struct Layout: Sendable {
    let index: SagaIndex

    enum Section: String, CaseIterable, Sendable {
        case orders = "Orders", deadLetters = "Dead letters", services = "Services", live = "Live", alerts = "Alerts", actions = "Actions"

        var path: String {
            switch self {
            case .orders: "/orders"
            case .deadLetters: "/deadletters"
            case .services: "/services"
            case .live: "/live"
            case .alerts: "/alerts"
            case .actions: "/actions"
            }
        }
    }

    func page(_ title: String, section: Section?, session: SessionStore.Session?, scripts: [String] = [], _ body: HTML) -> Response {
        let nav = Section.allCases.map { item -> HTML in
            item == section ? "<a href=\"\(item.path)\" aria-current=\"page\">\(item.rawValue)</a>" : "<a href=\"\(item.path)\">\(item.rawValue)</a>"
        }
        let who: HTML = session.map { session in
            """
            <form method="post" action="/logout" class="signout"><span>\(session.subject)</span>\
            <input type="hidden" name="csrf" value="\(session.csrf)"><button type="submit">Sign out</button></form>
            """
        } ?? .empty
        let progress = index.progress
        let banner: HTML = progress.caughtUp ? .empty : """
            <p class="notice" id="indexing">Reading the topics: \(progress.read) of \(progress.initialBacklog) records so far; \
            listings are incomplete until it has caught up.</p>
            """
        let scriptTags = HTML.join(scripts.map { "<script src=\"\($0)\" defer></script>" })
        let document: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · order-saga console</title><link rel="stylesheet" href="/assets/console.css">\(scriptTags)</head>
            <body><header><strong class="brand">order-saga</strong><nav>\(nav)</nav>\(who)</header>
            <main>\(banner)<h1>\(title)</h1>
            \(body)</main></body></html>
            """
        return Self.html(document)
    }

    static func html(_ document: HTML, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: document.raw)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}

/// Every answer of the console: a strict Content-Security-Policy (only the console's own
/// stylesheet and script, no inline script or style, no framing, forms only to itself), no
/// sniffing, no referrer, nothing cached.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var contentSecurityPolicy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[HTTPFields.Element.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPFields.Element.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPFields.Element.Name("X-Frame-Options")!] = "DENY"
        if !request.uri.path.hasPrefix("/assets/") { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// The services' problem bodies (`ProblemMiddleware`, which classifies every error) as a page a
/// person reads: same status and headers, the detail, and a way on (sign in after a 401).
struct ProblemPages<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        guard response.headers[.contentType] == "application/problem+json" else { return response }
        let problem = await Self.problem(of: response) ?? Problem(status: response.status, detail: "")
        let next: HTML = switch problem.status.code {
        case 401: "<p><a href=\"/login\">Sign in</a> with an operator's token.</p>"
        case 403: "<p>This console is for operators. <a href=\"/login\">Sign in</a> with an operator's token.</p>"
        default: "<p><a href=\"/orders\">Back to the orders</a></p>"
        }
        let errors = HTML.join((problem.errors ?? []).map { "<li><code>\($0.pointer)</code>: \($0.detail)</li>" })
        let document: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(problem.status.code) \(problem.title) · order-saga console</title>
            <link rel="stylesheet" href="/assets/console.css"></head>
            <body><main class="problem"><h1>\(problem.status.code) \(problem.title)</h1><p>\(problem.detail)</p>
            \(errors.raw.isEmpty ? HTML.empty : "<ul>\(errors)</ul>")\(next)</main></body></html>
            """
        var page = Layout.html(document, status: response.status)
        for field in response.headers where field.name != .contentType && field.name != .contentLength {
            page.headers.append(field)
        }
        return page
    }

    static func problem(of response: Response) async -> Problem? {
        let writer = CollectingWriter()
        try? await response.body.write(writer)
        return try? JSONDecoder().decode(Problem.self, from: Data(writer.buffer.readableBytesView))
    }
}

/// Collects a response body (the small problem bodies) into one buffer.
final class CollectingWriter: ResponseBodyWriter, @unchecked Sendable {
    var buffer = ByteBuffer()
    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        self.buffer.writeBuffer(&buffer)
    }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
