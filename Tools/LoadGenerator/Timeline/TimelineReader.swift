import EventSchema
import Foundation
import Kafka
import Logging

/// Reads one order's records and the services' views of it. Every event of an order is keyed by
/// its id, so it lives in one partition per topic (murmur2 of the key, design §2): only those
/// partitions are read, from their first stored offset to the end they had when the read started.
struct TimelineReader: Sendable {
    let kafka: KafkaConfiguration
    let http: ServiceHTTPClient
    let urls: ServiceURLs
    let timeout: Duration
    let logger: Logger

    static let topics = TopicReader.sagaTopics + [TopicCatalog.deadLetters.name]

    func timeline(of orderId: String) async throws -> OrderTimeline {
        var timeline = OrderTimeline.build(orderId: orderId, records: try await records(of: orderId))
        timeline.views = await views(of: orderId)
        return timeline
    }

    func records(of orderId: String) async throws -> [OrderTimeline.Record] {
        let watermarks = try await TopicExtent.watermarks(of: Self.topics, configuration: kafka, logger: logger)
        var counts: [String: Int32] = [:]
        for partition in watermarks.keys { counts[partition.topic, default: 0] += 1 }
        let key = Array(orderId.utf8)
        var remaining: [TopicPartition: Watermarks] = [:]
        for (topic, count) in counts {
            let home = TopicPartition(topic: topic, partition: Murmur2Partitioner.partition(forKey: key, partitionCount: count))
            if let marks = watermarks[home], marks.high > marks.low { remaining[home] = marks }
        }
        guard !remaining.isEmpty else { return [] }
        let consumer = try KafkaConsumer(configuration: kafka, partitions: remaining.mapValues(\.low), logger: logger)
        do {
            let records = try await read(consumer, remaining, key: key)
            await consumer.close()
            return records
        } catch {
            await consumer.close()
            throw error
        }
    }

    private func read(_ consumer: KafkaConsumer, _ extents: [TopicPartition: Watermarks], key: [UInt8]) async throws -> [OrderTimeline.Record] {
        var remaining = extents
        let deadline = ContinuousClock.now + timeout
        var records: [OrderTimeline.Record] = []
        while !remaining.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw LoadGenError("could not read \(remaining.keys.map(\.description).sorted().joined(separator: ", ")) to the end within \(timeout)")
            }
            for message in try await consumer.poll(maxMessages: 5000, timeout: .milliseconds(200)) {
                guard let end = remaining[message.topicPartition]?.high, message.offset < end else { continue }
                if message.offset + 1 >= end { remaining[message.topicPartition] = nil }
                guard message.key == key,
                      let envelope = try? EventEnvelope(headers: message.headers.map { (name: $0.key, value: $0.value) }) else { continue }
                records.append(OrderTimeline.Record(topic: message.topic, partition: message.partition, offset: message.offset,
                                                    timestampMs: message.timestampMs, envelope: envelope))
            }
        }
        return records
    }

    /// Each service's read side for the order, one line each; a service that does not answer
    /// says so instead of failing the timeline.
    func views(of orderId: String) async -> [OrderTimeline.View] {
        let id = StateReader.encode(orderId)
        let sources: [(String, String, [String])] = [
            ("order", "\(urls.order)/orders/\(id)", ["status", "cancelReason", "detail"]),
            ("inventory", "\(urls.inventory)/reservations/\(id)", ["state"]),
            ("payment", "\(urls.payment)/payments/\(id)", ["state", "netCharge"]),
            ("notification", "\(urls.notification)/notifications?orderId=\(id)", ["items"]),
        ]
        var views: [OrderTimeline.View] = []
        for (service, url, fields) in sources {
            views.append(OrderTimeline.View(service: service, summary: await summary(url, fields)))
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
