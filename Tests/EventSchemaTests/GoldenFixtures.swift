import EventSchema
import Foundation
import SwiftProtobuf

/// One released sample of an event: the value whose bytes are frozen in
/// Golden/v<schemaVersion>/<EventType>.bin (revision 1) or <EventType>.r<n>.bin.
///
/// Samples are append-only. An additive schema change adds a new revision that
/// sets the new fields; old revisions stay exactly as they are, forever.
struct GoldenSample {
    let schemaVersion: Int
    let revision: Int
    let event: SagaEvent

    var relativePath: String {
        let suffix = revision == 1 ? "" : ".r\(revision)"
        return "v\(schemaVersion)/\(event.eventType.rawValue)\(suffix).bin"
    }
}

enum GoldenFixtures {
    /// Every released sample, all versions and revisions.
    static let samples: [GoldenSample] = v1.map { GoldenSample(schemaVersion: 1, revision: 1, event: $0) }
        + v1r2.map { GoldenSample(schemaVersion: 1, revision: 2, event: $0) }

    /// The newest sample of each event type; must set every field of today's schema.
    static var latest: [EventType: GoldenSample] {
        var result: [EventType: GoldenSample] = [:]
        for sample in samples {
            let type = sample.event.eventType
            if let current = result[type],
               (current.schemaVersion, current.revision) > (sample.schemaVersion, sample.revision) { continue }
            result[type] = sample
        }
        return result
    }

    static let orderId = "ord-7f3c9a2e"
    static let customerId = "cus-000042"

    static func eur(_ minor: Int64) -> Saga_V1_Money { Saga_V1_Money(minorUnits: minor, currency: "EUR") }

    static let lines = [
        Saga_V1_OrderLine(sku: "SKU-RED-MUG", quantity: 2, unitPrice: eur(1250)),
        Saga_V1_OrderLine(sku: "SKU-BLUE-PLATE", quantity: 1, unitPrice: eur(899)),
    ]

    // Values chosen so that every field is set to a non-default value, nested
    // messages and repeated fields included (a default value is not on the wire,
    // so it would prove nothing).
    static let v1: [SagaEvent] = [
        .orderPlaced(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.lines = lines
            $0.total = eur(3399)
            $0.placedAtUnixMs = 1_767_225_600_000
            $0.deadlineUnixMs = 1_767_225_630_000
        }),
        .orderConfirmed(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.total = eur(3399)
            $0.paymentID = "pay-5d1e"
            $0.confirmedAtUnixMs = 1_767_225_601_250
        }),
        .orderCancelled(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.reason = .paymentFailed
            $0.total = eur(3399)
            $0.cancelledAtUnixMs = 1_767_225_601_500
            $0.paymentFailureReason = .insufficientFunds
            $0.detail = "payment failed: insufficient funds"
        }),
        .stockReserved(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.lines = lines
            $0.amount = eur(3399)
            $0.deadlineUnixMs = 1_767_225_630_000
            $0.reservedAtUnixMs = 1_767_225_600_400
        }),
        .stockRejected(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.reason = .outOfStock
            $0.unavailable = [
                .with { $0.sku = "SKU-RED-MUG"; $0.requested = 2; $0.available = 1 },
                .with { $0.sku = "SKU-BLUE-PLATE"; $0.requested = 1; $0.available = 0 },
            ]
            $0.rejectedAtUnixMs = 1_767_225_600_400
            $0.detail = "2 of 2 lines short"
        }),
        .stockReleased(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.reason = .paymentFailed
            $0.lines = lines
            $0.paymentFailureReason = .insufficientFunds
            $0.releasedAtUnixMs = 1_767_225_601_300
        }),
        .paymentCharged(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.amount = eur(3399)
            $0.paymentID = "pay-5d1e"
            $0.chargedAtUnixMs = 1_767_225_601_000
        }),
        .paymentFailed(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.amount = eur(3399)
            $0.reason = .insufficientFunds
            $0.failedAtUnixMs = 1_767_225_601_000
            $0.detail = "balance 1000 EUR minor units < 3399"
        }),
        .paymentRefunded(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.amount = eur(3399)
            $0.paymentID = "pay-5d1e"
            $0.reason = .orderCancelled
            $0.refundID = "ref-9b2c"
            $0.refundedAtUnixMs = 1_767_225_631_000
        }),
        .notificationSent(.with {
            $0.orderID = orderId
            $0.customerID = customerId
            $0.kind = .orderConfirmed
            $0.channel = .email
            $0.notificationID = "ntf-0c4d"
            $0.sentAtUnixMs = 1_767_225_602_000
        }),
        .deadLetter(.with {
            $0.originTopic = "payments.v1"
            $0.originPartition = 7
            $0.originOffset = 123_456
            $0.key = Data(orderId.utf8)
            $0.originHeaders = [
                .with { $0.name = "event-type"; $0.value = Data("PaymentCharged".utf8) },
                .with { $0.name = "x-null"; $0.value = Data([0xFF, 0x00]) },
            ]
            $0.payload = Data([0x0A, 0x03, 0x61, 0x62])
            $0.error = "malformed PaymentCharged payload: truncated"
            $0.consumerGroup = "order"
            $0.failedAtUnixMs = 1_767_225_605_000
            $0.errorKind = .undecodable
            $0.orderID = orderId
            $0.originTimestampUnixMs = 1_767_225_601_000
        }),
    ]

    /// Revision 2: DeadLetter gained `truncated`, `original_sha256`, `original_size` and the
    /// error kind MISROUTED.
    static let v1r2: [SagaEvent] = [
        .deadLetter(.with {
            $0.originTopic = "inventory.v1"
            $0.originPartition = 3
            $0.originOffset = 98_765
            $0.key = Data("ord-other".utf8)
            $0.originHeaders = [
                .with { $0.name = "event-type"; $0.value = Data("StockReserved".utf8) },
                .with { $0.name = "order-id"; $0.value = Data(orderId.utf8) },
            ]
            $0.payload = Data([0x0A, 0x03, 0x61, 0x62, 0x63])
            $0.error = "record key \"ord-other\" is not its order-id \"ord-7f3c9a2e\""
            $0.consumerGroup = "payment"
            $0.failedAtUnixMs = 1_767_225_606_000
            $0.errorKind = .misrouted
            $0.orderID = orderId
            $0.originTimestampUnixMs = 1_767_225_603_000
            $0.truncated = true
            $0.originalSha256 = Data((0..<32).map { UInt8($0) })
            $0.originalSize = 1_048_000
        }),
    ]

    /// The envelope whose headers are frozen in Golden/v1/envelope-headers.txt.
    static let envelope = EventEnvelope(
        eventId: UUID(uuidString: "0b4f2a3c-8d1e-4f5a-9b6c-7d8e9f0a1b2c")!,
        eventType: .paymentCharged,
        schemaVersion: 1,
        orderId: orderId,
        sequence: 3,
        causationId: UUID(uuidString: "1c5a3b4d-9e2f-4a6b-8c7d-6e5f4a3b2c1d")!,
        correlationId: UUID(uuidString: "2d6b4c5e-af30-4b7c-9d8e-5f6a7b8c9d0e")!,
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        producedAtUnixMs: 1_767_225_601_000
    )

    static let envelopeHeadersPath = "v1/envelope-headers.txt"

    /// Snapshots of the compiled schema, one per release that changed it (append
    /// "v1/descriptor_set.r2.binpb" etc.); today's schema must be compatible with each.
    static let descriptorSnapshots = ["v1/descriptor_set.binpb", "v1/descriptor_set.r2.binpb"]
}
