import Credentials
import Foundation
import Hummingbird
import HummingbirdTesting
import Kafka
import Logging
import Persistence
import Prometheus
import SagaAPI
import ServiceKit
@testable import InventoryService
@testable import NotificationService
@testable import OrderService
@testable import PaymentService

/// The four services built in process, not started (no consumer, no relay, no listener): their
/// routers answer `app.test(.router)` requests on a SQLite file each, with a fresh key set.
final class EdgeFixture: @unchecked Sendable {
    static let seed = SeedCatalog(
        currency: "EUR",
        skus: [.init(sku: "SKU-1", unitPrice: 1_000, stock: 1_000), .init(sku: "SKU-2", unitPrice: 250, stock: 1_000)],
        customers: [.init(customerId: "C-A", balance: 100_000), .init(customerId: "C-B", balance: 100_000)])

    let directory: URL
    let keys: URL
    let tokens: TokenIssuer

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("edge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        keys = directory.appendingPathComponent("keys")
        tokens = try KeyMaterial.create(in: keys, issuer: "order-saga", audience: "order-saga").issuer
        try JSONEncoder().encode(Self.seed).write(to: directory.appendingPathComponent("seed.json"))
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func settings(_ service: ServiceName, limits: HTTPLimits = HTTPLimits()) -> ServiceSettings {
        ServiceSettings(
            service: service, databaseURL: "sqlite://" + directory.appendingPathComponent("\(service.rawValue).db").path,
            kafka: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"), httpHost: "127.0.0.1", httpPort: 0,
            seedFile: directory.appendingPathComponent("seed.json").path, logLevel: .error, instanceId: service.rawValue,
            security: SecuritySettings(
                jwks: keys.appendingPathComponent(KeyMaterial.jwksFile).path,
                signingKeyFile: keys.appendingPathComponent(KeyMaterial.eventKeyFile(owner: service.rawValue)).path,
                keyringFile: keys.appendingPathComponent(KeyMaterial.keyringFile).path),
            httpLimits: limits)
    }

    static let logger = Logger(label: "edge-test")

    func order(ratePerCaller: Double = 1000, sagaTimeoutMs: Int64 = 30_000) async throws -> ServiceRunner.Built<OrderService> {
        try await ServiceRunner.build(OrderService.self, settings: settings(.order), registry: PrometheusCollectorRegistry(),
                                      logger: Self.logger) { context in
            try OrderService(context: context, policy: .init(sagaTimeoutMs: sagaTimeoutMs), sweepInterval: .seconds(1),
                             ordersPerSecondPerCaller: ratePerCaller)
        }
    }

    func inventory() async throws -> ServiceRunner.Built<InventoryService> {
        try await ServiceRunner.build(InventoryService.self, settings: settings(.inventory), registry: PrometheusCollectorRegistry(),
                                      logger: Self.logger) { try await InventoryService.make(context: $0) }
    }

    func payment() async throws -> ServiceRunner.Built<PaymentService> {
        try await ServiceRunner.build(PaymentService.self, settings: settings(.payment), registry: PrometheusCollectorRegistry(),
                                      logger: Self.logger) { try await PaymentService.make(context: $0) }
    }

    func notification(maxStreams: Int = 4) async throws -> ServiceRunner.Built<NotificationService> {
        try await ServiceRunner.build(NotificationService.self, settings: settings(.notification), registry: PrometheusCollectorRegistry(),
                                      logger: Self.logger) { context in
            try NotificationService(context: context, channel: .log, maxStreamSubscribers: maxStreams)
        }
    }

    func token(_ roles: [Role], _ subject: String) async throws -> String {
        try await tokens.token(subject: subject, roles: roles)
    }

    /// Every route each service serves, with its policy.
    func allRoutes() async throws -> [(ServiceName, EdgeRoutes)] {
        [(.order, try await order().routes), (.inventory, try await inventory().routes),
         (.payment, try await payment().routes), (.notification, try await notification().routes)]
    }
}

extension ServiceRunner.Built {
    /// The service's router as an in-process application.
    var app: some ApplicationProtocol { Application(router: router) }
}

/// A request with an optional bearer token.
func call(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, token: String? = nil,
          json: String? = nil, headers: HTTPFields = [:]) async throws -> TestResponse {
    var fields = headers
    if let token { fields[.authorization] = "Bearer \(token)" }
    if json != nil, fields[.contentType] == nil { fields[.contentType] = "application/json" }
    return try await client.execute(uri: uri, method: method, headers: fields, body: json.map { ByteBuffer(string: $0) })
}

extension TestResponse {
    var text: String { String(buffer: body) }
    func json() throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:]
    }
}
