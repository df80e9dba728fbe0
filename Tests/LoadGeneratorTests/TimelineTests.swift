import EventSchema
import Foundation
import SagaTimeline
import Testing
@testable import LoadGenerator

@Suite("loadgen timeline")
struct TimelineTests {
    static let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    func record(_ type: EventType, topic: String, offset: Int64, producedAt: Int64, sentAt: Int64?,
                eventId: UUID = UUID(), cause: UUID? = nil, orderId: String = "O-1") -> OrderTimeline.Record {
        OrderTimeline.Record(topic: topic, partition: 3, offset: offset, timestampMs: sentAt, envelope: EventEnvelope(
            eventId: eventId, eventType: type, orderId: orderId, sequence: offset, causationId: cause,
            correlationId: UUID(uuidString: "3f2504e0-4f89-41d3-9a0c-0305e82c3301")!, traceparent: Self.trace,
            producedAtUnixMs: producedAt))
    }

    @Test("steps in produced order with outbox, broker and next-step times; duplicates and other orders left out")
    func build() {
        let placed = UUID(), reserved = UUID()
        let records = [
            record(.stockReserved, topic: "inventory.v1", offset: 7, producedAt: 1_020, sentAt: 1_023, eventId: reserved, cause: placed),
            record(.orderPlaced, topic: "orders.v1", offset: 5, producedAt: 1_000, sentAt: 1_004, eventId: placed),
            record(.orderPlaced, topic: "orders.v1", offset: 6, producedAt: 1_000, sentAt: 1_009, eventId: placed),  // published twice
            record(.orderPlaced, topic: "orders.v1", offset: 8, producedAt: 1_001, sentAt: 1_002, orderId: "O-2"),
        ]
        let timeline = OrderTimeline.build(orderId: "O-1", records: records)
        #expect(timeline.steps.map(\.eventType) == ["OrderPlaced", "StockReserved"])
        let first = timeline.steps[0]
        #expect(first.offset == 5 && first.service == "order" && first.atMs == 0)
        #expect(first.outboxWaitMs == 4 && first.brokerWaitMs == 16 && first.nextStepMs == 20)
        #expect(first.consumedBy == ["inventory"])
        let last = timeline.steps[1]
        #expect(last.service == "inventory" && last.atMs == 20 && last.outboxWaitMs == 3)
        #expect(last.brokerWaitMs == nil && last.nextStepMs == nil && last.consumedBy.isEmpty)
        #expect(timeline.traceIds == ["4bf92f3577b34da6a3ce929d0e0e4736"] && timeline.totalMs == 20)
    }

    @Test("the waterfall names every step, its place and waits; JSON round-trips")
    func render() throws {
        let placed = UUID()
        var timeline = OrderTimeline.build(orderId: "O-1", records: [
            record(.orderPlaced, topic: "orders.v1", offset: 5, producedAt: 1_000, sentAt: 1_004, eventId: placed),
            record(.stockReserved, topic: "inventory.v1", offset: 7, producedAt: 1_020, sentAt: nil, cause: placed),
        ])
        timeline.views = [.init(service: "order", summary: "status=CONFIRMED")]
        let text = TimelineRenderer.render(timeline)
        #expect(text.contains("order O-1: 2 events in 20 ms, trace 4bf92f3577b34da6a3ce929d0e0e4736"))
        #expect(text.contains("orders.v1[3]@5") && text.contains("inventory.v1[3]@7") && text.contains("4ms") && text.contains("16ms") && text.contains("20ms"))
        #expect(text.contains("status=CONFIRMED"))
        let json = try JSONSerialization.jsonObject(with: Data(TimelineRenderer.json(timeline).utf8)) as? [String: Any]
        #expect((json?["steps"] as? [[String: Any]])?.count == 2)
        #expect(TimelineRenderer.render(OrderTimeline(orderId: "X", steps: [])).contains("no events"))
    }
}
