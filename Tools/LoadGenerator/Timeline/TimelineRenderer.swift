import Foundation
import SagaTimeline

/// The timeline as a text waterfall: one row per event, a bar from its produced-at (`·` the
/// outbox wait, `█` its time until a consumer acted on it), then each service's view.
enum TimelineRenderer {
    static func render(_ timeline: OrderTimeline, width: Int = 32) -> String {
        guard !timeline.steps.isEmpty else { return "order \(timeline.orderId): no events on any topic\n" }
        var out = "order \(timeline.orderId): \(timeline.steps.count) events in \(timeline.totalMs) ms"
        let traces = timeline.traceIds
        out += traces.isEmpty ? ", no trace context\n" : ", trace \(traces.joined(separator: ", "))\n"
        let span = max(1, timeline.steps.map { $0.atMs + ($0.outboxWaitMs ?? 0) + ($0.brokerWaitMs ?? 0) }.max() ?? 1)
        let header = [pad("+ms", 6, right: true), pad("event", 20), pad("service", 13), pad("topic[partition]@offset", 26),
                      pad("produced-at", 24), pad("outbox", 7, right: true), pad("broker", 7, right: true),
                      pad("next", 7, right: true), "  waterfall"]
        out += header.joined(separator: " ") + "\n"
        for step in timeline.steps {
            let scale = { (ms: Int64) in Int((Double(ms) / Double(span) * Double(width)).rounded()) }
            let lead = scale(step.atMs)
            let outbox = step.outboxWaitMs.map(scale) ?? 0
            let broker = step.brokerWaitMs.map(scale) ?? 0
            let bar = String(repeating: " ", count: lead) + "|" + String(repeating: "·", count: outbox) + String(repeating: "█", count: broker)
            let row = [pad("\(step.atMs)", 6, right: true), pad(step.eventType, 20), pad(step.service, 13),
                       pad("\(step.topic)[\(step.partition)]@\(step.offset)", 26), pad(iso(step.producedAtMs), 24),
                       pad(ms(step.outboxWaitMs), 7, right: true), pad(ms(step.brokerWaitMs), 7, right: true),
                       pad(ms(step.nextStepMs), 7, right: true), "  " + bar]
            out += row.joined(separator: " ") + "\n"
        }
        out += "outbox: produced-at → sent by the relay; broker: sent → first event a consumer emitted for it (" +
            "broker, poll and transaction); next: to the next event's produced-at\n"
        for view in timeline.views { out += "\(pad(view.service, 13)) \(view.summary)\n" }
        return out
    }

    static func json(_ timeline: OrderTimeline) throws -> String {
        struct Document: Encodable {
            let orderId: String
            let traceIds: [String]
            let totalMs: Int64
            let steps: [OrderTimeline.Step]
            let views: [OrderTimeline.View]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let document = Document(orderId: timeline.orderId, traceIds: timeline.traceIds, totalMs: timeline.totalMs,
                                steps: timeline.steps, views: timeline.views)
        return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
    }

    private static func ms(_ value: Int64?) -> String { value.map { "\($0)ms" } ?? "—" }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let count = text.count
        guard count < width else { return text }
        let fill = String(repeating: " ", count: width - count)
        return right ? fill + text : text + fill
    }

    static func iso(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}
