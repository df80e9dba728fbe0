import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SagaAPI
import ServiceKit

/// The services' HTTP endpoints, each called with the signed-in operator's own token: what a
/// page shows of a service is what that operator may read, and an action is taken in their name.
struct ServiceClient: Sendable {
    let http: HTTPClient
    /// Services answer a page's questions within this, or the page says they did not.
    let timeout: Duration

    struct Reply: Sendable {
        let status: Int
        let body: [UInt8]
    }

    enum Failure: Error, CustomStringConvertible {
        case unreachable(String)
        case status(Int, String)
        case unreadable(String)

        var description: String {
            switch self {
            case .unreachable(let why): "unreachable: \(why)"
            case .status(let code, let detail): "HTTP \(code)\(detail.isEmpty ? "" : ": \(detail)")"
            case .unreadable(let why): "unreadable answer: \(why)"
            }
        }
    }

    func send(_ method: HTTPMethod, _ url: String, token: String, json: [UInt8]? = nil) async throws(Failure) -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(json)
        }
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(timeout / .milliseconds(1))))
            let body = try await response.body.collect(upTo: 16 << 20)
            return Reply(status: Int(response.status.code), body: Array(body.readableBytesView))
        } catch {
            throw .unreachable("\(method.rawValue) \(url): \(error)")
        }
    }

    /// A 200 answer decoded as `T`; any other answer is a failure quoting its problem's detail.
    func get<T: Decodable>(_ type: T.Type, _ url: String, token: String) async -> Result<T, Failure> {
        do {
            return Self.decode(type, try await send(.GET, url, token: token))
        } catch {
            return .failure(error)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ reply: Reply) -> Result<T, Failure> {
        guard reply.status == 200 else { return .failure(.status(reply.status, problemDetail(reply.body))) }
        do {
            return .success(try JSONDecoder().decode(T.self, from: Data(reply.body)))
        } catch {
            return .failure(.unreadable("\(error)"))
        }
    }

    static func problemDetail(_ body: [UInt8]) -> String {
        (try? JSONDecoder().decode(Problem.self, from: Data(body)))?.detail ?? ""
    }

    static func problem(_ body: [UInt8]) -> Problem? {
        try? JSONDecoder().decode(Problem.self, from: Data(body))
    }
}

/// Where each service's instances are (`--service order=http://127.0.0.1:8080`, repeatable).
struct ServiceDirectory: Sendable {
    static let services = ["order", "inventory", "payment", "notification"]
    let instances: [String: [String]]

    /// `name=url` pairs; every service must have at least one instance.
    init(_ pairs: [String]) throws(ConsoleSettingError) {
        var instances: [String: [String]] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, Self.services.contains(parts[0]),
                  let url = URL(string: parts[1]), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ConsoleSettingError("--service \(pair): expected NAME=URL, NAME one of \(Self.services.joined(separator: ", ")), URL http(s)://host:port")
            }
            instances[parts[0], default: []].append(parts[1].hasSuffix("/") ? String(parts[1].dropLast()) : parts[1])
        }
        let missing = Self.services.filter { instances[$0] == nil }
        guard missing.isEmpty else {
            throw ConsoleSettingError("--service: give every service's URL; missing \(missing.joined(separator: ", ")) (e.g. --service order=http://127.0.0.1:8080)")
        }
        self.instances = instances
    }

    /// The first instance of a service: its read side is shared by all instances (one database).
    func primary(_ service: String) -> String { instances[service]![0] }
}

struct ConsoleSettingError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
