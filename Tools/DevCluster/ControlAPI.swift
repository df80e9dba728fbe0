import DevClusterAPI
import Foundation
import Hummingbird
import SagaAPI

/// The HTTP control interface (see README.md for the endpoints).
enum ControlAPI {
    static func router(cluster: MockCluster) -> Router<BasicRequestContext> {
        let router = Router()
        // Every error, unknown routes included, answers a problem; the mock cluster's own
        // errors keep their text (a development tool: nothing to hide).
        router.middlewares.add(ProblemMiddleware(notFoundHint: "; GET / lists them") { error, _, _ in
            error is HTTPError ? nil : Problem(status: .internalServerError, detail: "\(error)")
        })

        router.get("/") { _, _ in
            try json(["endpoints": [
                "GET /status", "GET /healthz",
                "POST /brokers/{id|all}/pause[?ms=N]", "POST /brokers/{id|all}/resume",
                "POST /brokers/{id|all}/rtt?ms=N",
                "POST /brokers/{id|all}/down", "POST /brokers/{id|all}/up",
                "POST /brokers/{id}/evacuate[?group=G...]", "POST /leaders/rebalance[?group=G...]",
                "POST /topics/{name}?partitions=N",
            ]])
        }
        router.get("/healthz") { _, _ in try json(["status": "ok"]) }
        router.get("/status") { _, _ in try json(await cluster.status()) }

        router.post("/brokers/:id/pause") { request, context in
            let ms = try optionalInt(request, "ms", in: 1...Int(Int32.max))
            return try json(await cluster.pause(try target(context), ms: ms))
        }
        router.post("/brokers/:id/rtt") { request, context in
            guard let ms = try optionalInt(request, "ms", in: 0...Int(Int32.max)) else {
                throw Problem.badRequest("rtt needs ?ms=N: the delay of every response in ms (0 restores)")
            }
            return try json(await cluster.setRtt(try target(context), ms: ms))
        }
        router.post("/brokers/:id/resume") { _, context in try json(await cluster.resume(try target(context))) }
        router.post("/brokers/:id/down") { _, context in try json(await cluster.down(try target(context))) }
        router.post("/brokers/:id/up") { _, context in try json(await cluster.up(try target(context))) }
        router.post("/brokers/:id/evacuate") { request, context in
            guard case .one(let id) = try target(context) else {
                throw Problem.badRequest("evacuate takes one broker id, not 'all'")
            }
            return try json(await cluster.evacuate(id, groups: try await groupNames(request)))
        }
        router.post("/topics/:name") { request, context in
            let name = context.parameters.get("name") ?? ""
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
                throw Problem.badRequest("topic name must be letters, digits, '.', '_' or '-', got '\(name)'")
            }
            let partitions = try optionalInt(request, "partitions", in: 1...1000) ?? 12
            return try json(await cluster.createTopic(name, partitions: partitions))
        }
        router.post("/leaders/rebalance") { request, _ in
            try json(await cluster.rebalance(groups: try await groupNames(request)))
        }
        return router
    }

    private static func target(_ context: BasicRequestContext) throws -> BrokerTarget {
        let raw = context.parameters.get("id") ?? ""
        if raw == "all" { return .all }
        guard let id = Int(raw) else {
            throw Problem.badRequest("broker id must be an integer or 'all', got '\(raw)'")
        }
        return .one(id)
    }

    private static func optionalInt(_ request: Request, _ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let raw = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw Problem.badRequest("query parameter \(name) must be an integer in \(range), got '\(raw)'")
        }
        return value
    }

    private struct GroupsBody: Decodable { var groups: [String]? }

    /// Extra consumer groups: `?group=a&group=b`, `?groups=a,b` or a JSON body `{"groups": [...]}`.
    private static func groupNames(_ request: Request) async throws -> [String] {
        var names = request.uri.queryParameters.getAll("group")
        names += request.uri.queryParameters.getAll("groups").flatMap { $0.split(separator: ",").map(String.init) }
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024)
        if body.readableBytes > 0 {
            do {
                names += try JSONDecoder().decode(GroupsBody.self, from: Data(body.readableBytesView)).groups ?? []
            } catch {
                throw Problem.badRequest(#"body must be JSON like {"groups": ["order"]}: \#(error)"#)
            }
        }
        names = names.map { $0.trimmingCharacters(in: .whitespaces) }
        if names.contains(where: \.isEmpty) { throw Problem.badRequest("empty group name") }
        return names
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok,
                                   contentType: String = "application/json") throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
        return Response(status: status, headers: [.contentType: contentType],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
