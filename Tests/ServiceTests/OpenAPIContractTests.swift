import Credentials
import Foundation
import ServiceKit
import XCTest
import Yams

/// The edge's contract, Shared/SagaAPI/openapi.yaml, against the routes the four services
/// register (EdgeRoutes' table, built in process): both ways, with each route's security.
final class OpenAPIContractTests: XCTestCase {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Shared/SagaAPI/openapi.yaml").standardizedFileURL

    /// One operation of the document: its service tag, whether it needs a token, its roles.
    struct Operation: Hashable, CustomStringConvertible {
        let method: String
        let path: String
        var description: String { "\(method) \(path)" }
    }

    struct Declared {
        let tags: [String]
        /// Anonymous callers admitted (`{}` among the security requirements).
        let open: Bool
        let bearer: Bool
        let roles: Set<String>
    }

    func declaredOperations() throws -> [Operation: Declared] {
        let text = try String(contentsOf: Self.document, encoding: .utf8)
        let root = try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        XCTAssertEqual(root["openapi"] as? String, "3.1.0")
        let schemes = ((root["components"] as? [String: Any])?["securitySchemes"] as? [String: Any]) ?? [:]
        let bearerScheme = try XCTUnwrap(schemes["bearer"] as? [String: Any], "no bearer security scheme")
        XCTAssertEqual(bearerScheme["type"] as? String, "http")
        XCTAssertEqual(bearerScheme["scheme"] as? String, "bearer")
        let globalSecurity = root["security"] as? [[String: Any]] ?? []
        let paths = try XCTUnwrap(root["paths"] as? [String: Any])
        var operations: [Operation: Declared] = [:]
        for (path, item) in paths {
            for (method, body) in try XCTUnwrap(item as? [String: Any]) {
                guard let body = body as? [String: Any] else { continue }
                let security = body["security"] as? [[String: Any]] ?? globalSecurity
                operations[Operation(method: method.uppercased(), path: path)] = Declared(
                    tags: body["tags"] as? [String] ?? [],
                    open: security.isEmpty || security.contains { $0.isEmpty },
                    bearer: security.contains { $0["bearer"] != nil },
                    roles: Set(body["x-roles"] as? [String] ?? ["(no x-roles)"]))
            }
        }
        return operations
    }

    /// `/orders/:id` as the document writes it, `/orders/{id}`.
    static func documentPath(_ routerPath: String) -> String {
        routerPath.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
    }

    func testEveryRouteIsDocumentedAndEveryOperationIsServed() async throws {
        let declared = try declaredOperations()
        let fixture = try EdgeFixture()
        var served: Set<Operation> = []
        for (service, routes) in try await fixture.allRoutes() {
            let tag = service.rawValue.prefix(1).uppercased() + service.rawValue.dropFirst()
            var registered: Set<Operation> = []
            for (route, policy) in routes.policies {
                let operation = Operation(method: route.method.rawValue, path: Self.documentPath(route.path))
                registered.insert(operation)
                guard let entry = declared[operation] else {
                    XCTFail("\(service) serves \(operation), which openapi.yaml does not describe")
                    continue
                }
                XCTAssertTrue(entry.tags.contains(tag) || entry.tags.contains("Probes"), "\(operation) is not tagged \(tag) or Probes")
                XCTAssertEqual(entry.open, policy.isOpen, "\(service) \(operation): open in the service, not in the document, or the reverse")
                if !policy.isOpen {
                    XCTAssertTrue(entry.bearer, "\(service) \(operation) needs a bearer token; the document does not say so")
                }
                XCTAssertEqual(entry.roles, Set(policy.roles.map(\.rawValue)), "\(service) \(operation): x-roles differ from the route's policy")
            }
            let expected = Set(declared.filter { $0.value.tags.contains(tag) || $0.value.tags.contains("Probes") }.keys)
            XCTAssertEqual(expected.subtracting(registered).map(\.description).sorted(), [],
                           "openapi.yaml describes operations of \(service) that it does not serve")
            served.formUnion(registered)
        }
        XCTAssertEqual(Set(declared.keys).subtracting(served).map(\.description).sorted(), [], "operations no service serves")
    }

    /// The check can fail: a route added without its operation in the document is found.
    func testARouteMissingFromTheDocumentIsFound() async throws {
        let declared = try declaredOperations()
        let fixture = try EdgeFixture()
        let order = try await fixture.order()
        order.routes.get("/orders/:id/secret", .staff) { _, _, _ in .init(status: .ok) }
        let missing = order.routes.policies.keys
            .map { Operation(method: $0.method.rawValue, path: Self.documentPath($0.path)) }
            .filter { declared[$0] == nil }
        XCTAssertEqual(missing.map(\.description), ["GET /orders/{id}/secret"])
    }
}
