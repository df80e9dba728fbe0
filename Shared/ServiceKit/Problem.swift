import Credentials
import Foundation
import Hummingbird
import NIOCore
import Persistence

/// An RFC 9457 problem: every error a service answers with, as `application/problem+json`.
public struct Problem: Error, Codable, Sendable, CustomStringConvertible {
    /// One thing wrong with the request, located by a JSON pointer into its body.
    public struct FieldError: Codable, Sendable, Hashable {
        public var pointer: String
        public var detail: String

        public init(pointer: String, detail: String) {
            self.pointer = pointer
            self.detail = detail
        }
    }

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var errors: [FieldError]?
    /// Response headers that belong to the problem (`Retry-After`, `WWW-Authenticate`); not in the body.
    public var headers: HTTPFields = [:]

    enum CodingKeys: String, CodingKey { case type, title, status, detail, errors }

    public init(status: Int, title: String, detail: String, type: String = "about:blank", errors: [FieldError]? = nil,
                headers: HTTPFields = [:]) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    public var description: String { "\(status) \(title): \(detail)" }

    public static func badRequest(_ detail: String, errors: [FieldError]? = nil) -> Problem {
        Problem(status: 400, title: "Bad Request", detail: detail, errors: errors)
    }
    public static func notFound(_ detail: String) -> Problem { Problem(status: 404, title: "Not Found", detail: detail) }
    public static func conflict(_ detail: String) -> Problem { Problem(status: 409, title: "Conflict", detail: detail) }
    public static func unprocessable(_ detail: String, errors: [FieldError]) -> Problem {
        Problem(status: 422, title: "Unprocessable Content", detail: detail, errors: errors)
    }
    public static func unavailable(_ detail: String, retryAfterSeconds: Int? = nil) -> Problem {
        Problem(status: 503, title: "Service Unavailable", detail: detail,
                headers: retryAfterSeconds.map { [.retryAfter: "\($0)"] } ?? [:])
    }
    public static func forbidden(_ detail: String) -> Problem { Problem(status: 403, title: "Forbidden", detail: detail) }
    public static func tooManyRequests(retryAfterSeconds: Int) -> Problem {
        Problem(status: 429, title: "Too Many Requests",
                detail: "this caller's rate limit is reached; retry after \(retryAfterSeconds) s",
                headers: [.retryAfter: "\(retryAfterSeconds)"])
    }
    /// 401: no token, or one that was refused. The body says only that; the reason is logged.
    public static func unauthenticated(_ rejection: TokenRejection?) -> Problem {
        let challenge = rejection == nil ? #"Bearer realm="order-saga""# : #"Bearer realm="order-saga", error="invalid_token""#
        return Problem(status: 401, title: "Unauthorized",
                       detail: rejection == nil ? "this endpoint needs a bearer token (Authorization: Bearer <token>)"
                           : "the bearer token was not accepted (expired, not for this service, or not signed by a trusted key)",
                       headers: [.wwwAuthenticate: challenge])
    }
}

/// The edge's refusals, as problems.
typealias EdgeProblem = Problem

/// Turns every error, unknown routes and oversized bodies included, into a problem body. An
/// unexpected error is logged with a reference id and answered 500 with only that id: SQL
/// errors, file paths and connection details stay in the log. A transient database error (disk
/// full, lock timeout, connection lost) is 503 with `Retry-After`: the request was not applied,
/// and the same request may succeed in a moment.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context,
                       next: (Request, Context) async throws -> Response) async throws -> Response {
        let problem: Problem
        var headers: HTTPFields = [:]
        do {
            return try await next(request, context)
        } catch let error as Problem {
            problem = error
            headers = error.headers
        } catch let error as SQLError where error.isTransient {
            // The database's words stay in the log, under the id the caller can quote.
            let reference = Self.reference()
            context.logger.error("request failed for now", metadata: [
                "path": "\(request.uri.path)", "error": "\(error)", "problem-id": "\(reference)",
            ])
            problem = .unavailable("nothing was applied; the service cannot take this request right now, retry in a moment (reference \(reference))")
            headers[.retryAfter] = "1"
        } catch is NIOTooManyBytesError {
            problem = Problem(status: 413, title: "Content Too Large", detail: "the request body is larger than this endpoint accepts")
        } catch let error as HTTPError {
            let detail: String = switch error.status {
            case .notFound: "no endpoint \(request.method) \(request.uri.path)"
            case .contentTooLarge: "the request body is larger than this endpoint accepts"
            default: error.body ?? error.status.reasonPhrase
            }
            problem = Problem(status: error.status.code, title: error.status.reasonPhrase, detail: detail)
        } catch {
            let reference = Self.reference()
            context.logger.error("request failed", metadata: [
                "path": "\(request.uri.path)", "error": "\(error)", "problem-id": "\(reference)",
            ])
            problem = Problem(status: 500, title: "Internal Server Error",
                              detail: "the request failed on our side; quote reference \(reference) when you report it")
        }
        return try JSONResponse.make(problem, status: .init(code: problem.status), contentType: "application/problem+json", headers: headers)
    }

    static func reference() -> String { String(UUID().uuidString.lowercased().prefix(8)) }
}

public enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok,
                                          contentType: String = "application/json",
                                          headers: HTTPFields = [:]) throws -> Response {
        var fields = headers
        fields[.contentType] = contentType
        var data = try encoder.encode(value)
        data.append(0x0A)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
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

public struct Page<Item: Encodable & Sendable>: Encodable, Sendable {
    public var items: [Item]
    public var next: String?

    /// `items` fetched with `limit + 1`: the extra one only tells that there is a next page.
    public init(items: [Item], limit: Int, id: (Item) -> String) {
        self.items = Array(items.prefix(limit))
        next = items.count > limit ? self.items.last.map(id) : nil
    }

    enum CodingKeys: String, CodingKey { case items, next }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items)
        try c.encode(next, forKey: .next)  // explicit null: clients test for it
    }
}

/// Header names the services use beyond the standard ones.
public enum HeaderNames {
    public typealias Name = HTTPFields.Element.Name
    public static let idempotencyKey = Name("Idempotency-Key")!
    public static let idempotentReplayed = Name("Idempotent-Replayed")!
}
