import Credentials
import EventSchema
import Foundation
import Kafka
import Logging
import SagaTimeline

/// One order's timeline: its records (`OrderRecordReader`, authenticated with the run's keyring)
/// and the services' views of it.
struct TimelineReader: Sendable {
    let kafka: KafkaConfiguration
    let http: ServiceHTTPClient
    let urls: ServiceURLs
    let authenticator: EventAuthenticator
    let timeout: Duration
    let logger: Logger

    func timeline(of orderId: String) async throws -> OrderTimeline {
        let reader = OrderRecordReader(kafka: kafka, authenticator: authenticator, timeout: timeout, logger: logger)
        let contents: OrderRecordReader.Contents
        do {
            contents = try await reader.read(orderId: orderId)
        } catch let failure as OrderRecordReader.Failure {
            throw LoadGenError(failure.description)
        }
        var timeline = OrderTimeline.build(orderId: orderId, records: contents.records)
        timeline.views = await views(of: orderId)
        for rejected in contents.rejected {
            timeline.views.append(.init(service: "not an event", summary: "\(rejected.topic)[\(rejected.partition)]@\(rejected.offset): \(rejected.reason)"))
        }
        return timeline
    }

    /// Each service's read side for the order, one line each; a service that does not answer
    /// says so instead of failing the timeline.
    func views(of orderId: String) async -> [OrderTimeline.View] {
        let fields = ["order": ["status", "cancelReason", "detail"], "inventory": ["state"],
                      "payment": ["state", "netCharge"], "notification": ["items"]]
        let bases = ["order": urls.order, "inventory": urls.inventory, "payment": urls.payment, "notification": urls.notification]
        var views: [OrderTimeline.View] = []
        for (service, path) in OrderTimeline.statePaths(of: orderId) {
            views.append(OrderTimeline.View(service: service, summary: await summary("\(bases[service]!)\(path)", fields[service]!)))
        }
        return views
    }

    private func summary(_ url: String, _ fields: [String]) async -> String {
        let reply: HTTPReply
        do { reply = try await http.send(.GET, url, timeout: .seconds(10)) } catch { return "unreachable (\(url))" }
        guard reply.status == 200 else { return "nothing for this order (HTTP \(reply.status))" }
        guard let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any] else { return "unreadable answer" }
        return fields.compactMap { field -> String? in
            guard let value = object[field], !(value is NSNull) else { return nil }
            if let items = value as? [[String: Any]] {
                return "\(items.count) notification(s): " + items.compactMap { $0["kind"] as? String }.joined(separator: ", ")
            }
            if let money = value as? [String: Any], let minor = money["minorUnits"] { return "\(field)=\(minor) \(money["currency"] ?? "")" }
            let text = "\(value)"
            return text.isEmpty ? nil : "\(field)=\(text)"
        }.joined(separator: " ")
    }
}
