import AsyncHTTPClient
import Foundation
import SagaAPI
import NIOCore
import NIOHTTP1

/// An HTTP answer, body fully read.
struct HTTPReply: Sendable {
    let status: Int
    /// Header values by lower-cased name (the last one wins).
    let headers: [String: String]
    let body: [UInt8]
}

/// A request that did not give the expected answer; the text names the URL and the cause.
struct HTTPFailure: Error, CustomStringConvertible {
    let description: String
}

/// JSON over AsyncHTTPClient, for the Order API and the audit's listings. Every request carries
/// a bearer token: the one given to `send`, else `defaultToken` (the auditor's).
final class ServiceHTTPClient: Sendable {
    private let client: HTTPClient
    let defaultToken: String?
    static let maxBody = 64 << 20

    /// `connections` bounds the HTTP/1 connections per service: requests beyond it queue in
    /// the pool, and that wait is part of the measured latency, as it would be for a client.
    /// Idle connections are dropped well before the services close them (their idle timeout,
    /// 10 s by default), so a request never goes out on a connection the server is closing.
    init(connections: Int, defaultToken: String?) {
        self.defaultToken = defaultToken
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(4), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        // AsyncHTTPClient bounds a request's wait for a pooled connection by the connect timeout:
        // at 5 s a burst failed POSTs the services would have answered. The wait is latency the
        // report shows; each request's own deadline (`send`'s timeout) still ends it.
        configuration.timeout = .init(connect: .seconds(30))
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
              token: String? = nil, timeout: Duration = .seconds(30)) async throws -> HTTPReply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token = token ?? defaultToken { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
            let buffer = try await response.body.collect(upTo: Self.maxBody)
            var names: [String: String] = [:]
            for header in response.headers { names[header.name.lowercased()] = header.value }
            return HTTPReply(status: Int(response.status.code), headers: names, body: Array(buffer.readableBytesView))
        } catch {
            throw HTTPFailure(description: "\(method.rawValue) \(url) failed: \(error)")
        }
    }

    /// GETs and decodes a 200 answer; anything else is an error quoting the problem body.
    func get<T: Decodable>(_ url: String, as type: T.Type, timeout: Duration = .seconds(30)) async throws -> T {
        let reply = try await send(.GET, url, timeout: timeout)
        guard reply.status == 200 else {
            throw HTTPFailure(description: "GET \(url) answered \(reply.status): \(problemText(reply.body))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(reply.body))
        } catch {
            throw HTTPFailure(description: "GET \(url) answered JSON that does not match openapi.yaml: \(error)")
        }
    }

    func getText(_ url: String, timeout: Duration = .seconds(10)) async throws -> String {
        let reply = try await send(.GET, url, timeout: timeout)
        guard reply.status == 200 else { throw HTTPFailure(description: "GET \(url) answered \(reply.status)") }
        return String(decoding: reply.body, as: UTF8.self)
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}

/// The `title: detail` of a problem+json body, or the body's start when it is something else.
func problemText(_ body: [UInt8]) -> String {
    if let problem = try? JSONDecoder().decode(Problem.self, from: Data(body)) {
        return "\(problem.title): \(problem.detail)"
    }
    let text = String(decoding: body.prefix(200), as: UTF8.self)
    return text.isEmpty ? "(empty body)" : text
}
