import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An RFC 9457 problem: every error the services and the dev cluster answer with, as
/// `application/problem+json` (the `Problem` schema of openapi.yaml). It renders itself
/// (`HTTPResponseError`), so a handler only throws it.
public struct Problem: Error, Codable, Sendable, CustomStringConvertible, HTTPResponseError {
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
    public var status: HTTPResponse.Status
    public var detail: String
    public var errors: [FieldError]?
    /// Response headers that belong to the problem (`Retry-After`, `WWW-Authenticate`); not in the body.
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status, title: String? = nil, detail: String, type: String = "about:blank",
                errors: [FieldError]? = nil, headers: HTTPFields = [:]) {
        self.type = type
        self.title = title ?? status.reasonPhrase
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    public var description: String { "\(status.code) \(title): \(detail)" }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, errors }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "about:blank"
        title = try c.decode(String.self, forKey: .title)
        status = .init(code: try c.decode(Int.self, forKey: .status))
        detail = try c.decode(String.self, forKey: .detail)
        errors = try c.decodeIfPresent([FieldError].self, forKey: .errors)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encode(title, forKey: .title)
        try c.encode(status.code, forKey: .status)
        try c.encode(detail, forKey: .detail)
        try c.encodeIfPresent(errors, forKey: .errors)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONResponse.make(self, status: status, contentType: "application/problem+json", headers: headers)
    }
}

extension Problem {
    public static func badRequest(_ detail: String, errors: [FieldError]? = nil) -> Problem {
        Problem(status: .badRequest, detail: detail, errors: errors)
    }
    public static func notFound(_ detail: String) -> Problem { Problem(status: .notFound, detail: detail) }
    public static func conflict(_ detail: String) -> Problem { Problem(status: .conflict, detail: detail) }
    public static func forbidden(_ detail: String) -> Problem { Problem(status: .forbidden, detail: detail) }
    public static func unprocessable(_ detail: String, errors: [FieldError]) -> Problem {
        Problem(status: .unprocessableContent, title: "Unprocessable Content", detail: detail, errors: errors)
    }
    public static func unavailable(_ detail: String, retryAfterSeconds: Int? = nil) -> Problem {
        Problem(status: .serviceUnavailable, detail: detail, headers: retryAfterSeconds.map { [.retryAfter: "\($0)"] } ?? [:])
    }
    public static func tooManyRequests(retryAfterSeconds: Int) -> Problem {
        Problem(status: .tooManyRequests, detail: "this caller's rate limit is reached; retry after \(retryAfterSeconds) s",
                headers: [.retryAfter: "\(retryAfterSeconds)"])
    }
}

/// Turns every error, unknown routes and oversized bodies included, into a problem body.
/// `classify` maps the errors its server knows (a transient database error, say) to a problem;
/// any other error is logged with a reference id and answered 500 with only that id, so that
/// SQL errors, file paths and connection details stay in the log.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let classify: @Sendable (any Error, Request, Context) -> Problem?
    let notFoundHint: String

    /// `notFoundHint` ends the detail of a 404 for an unknown route.
    public init(notFoundHint: String = "",
                classify: @escaping @Sendable (any Error, Request, Context) -> Problem? = { _, _, _ in nil }) {
        self.classify = classify
        self.notFoundHint = notFoundHint
    }

    public func handle(_ request: Request, context: Context,
                       next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return try problem.response(from: request, context: context)
        } catch {
            return try problem(for: error, request, context).response(from: request, context: context)
        }
    }

    func problem(for error: any Error, _ request: Request, _ context: Context) -> Problem {
        if let problem = classify(error, request, context) { return problem }
        switch error {
        case is NIOTooManyBytesError:
            return Problem(status: .contentTooLarge, title: "Content Too Large", detail: "the request body is larger than this endpoint accepts")
        case let error as HTTPError:
            let detail: String = switch error.status {
            case .notFound: "no endpoint \(request.method) \(request.uri.path)\(notFoundHint)"
            case .contentTooLarge: "the request body is larger than this endpoint accepts"
            default: error.body ?? error.status.reasonPhrase
            }
            return Problem(status: error.status, detail: detail)
        default:
            let reference = Self.reference()
            context.logger.error("request failed", metadata: [
                "path": "\(request.uri.path)", "error": "\(error)", "problem-id": "\(reference)",
            ])
            return Problem(status: .internalServerError,
                           detail: "the request failed on our side; quote reference \(reference) when you report it")
        }
    }

    /// The id a log line and the caller's problem share.
    public static func reference() -> String { String(UUID().uuidString.lowercased().prefix(8)) }
}

/// JSON bodies: sorted keys (the same value gives the same bytes) and a final line break.
public enum JSONResponse {
    public static let encoder: JSONEncoder = {
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
