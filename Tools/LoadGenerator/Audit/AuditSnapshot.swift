import EventSchema
import Kafka
import SagaAPI

/// Everything the audit looks at, read once after the system drained: the services' state
/// through their HTTP listings and the saga topics up to their end. A plain value, so the
/// audit is a pure function of it and tests can hand it doctored state. Where the audit needs
/// less than the wire carries, or a typed field (an order's status), it keeps its own narrower
/// value, made from the wire types of SagaAPI in `StateReader`.
struct AuditSnapshot: Sendable {
    struct Line: Sendable, Hashable, Codable {
        var sku: String
        var quantity: Int64
    }

    struct Order: Sendable, Hashable {
        var orderId: String
        var customerId: String
        var status: OrderStatus
        var cancelReason: String?
        var total: Int64
    }

    /// The wire type as it is: the audit checks every field of it.
    typealias Stock = StockView

    struct Reservation: Sendable, Hashable {
        var orderId: String
        /// RESERVED, REJECTED, SOLD, RELEASED or VOIDED.
        var state: String
        var lines: [Line]
    }

    struct Payment: Sendable, Hashable {
        var orderId: String
        var customerId: String
        /// CHARGED, FAILED, REFUNDED or CANCELLED.
        var state: String
        /// What the customer is out of for this order now (charge minus refund).
        var netCharge: Int64
    }

    struct Account: Sendable, Hashable {
        var customerId: String
        var initialBalance: Int64
        var balance: Int64
    }

    struct Notification: Sendable, Hashable {
        var notificationId: String
        var orderId: String
        var kind: NotificationKind?
    }

    /// One record of a saga topic: its envelope and the payload facts the audit needs.
    struct TopicRecord: Sendable, Hashable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var orderId: String
        var eventId: String
        var eventType: EventType
        var sequence: Int64
        /// OrderPlaced only.
        var lines: [Line]? = nil
        /// OrderCancelled only, as the API spells it.
        var cancelReason: String? = nil
        /// NotificationSent only.
        var notificationKind: NotificationKind? = nil
    }

    var orders: [Order] = []
    /// The lines of each order (from OrderPlaced, else from GET /orders/{id}).
    var orderLines: [String: [Line]] = [:]
    var stock: [Stock] = []
    var reservations: [Reservation] = []
    var payments: [Payment] = []
    var accounts: [Account] = []
    var notifications: [Notification] = []
    /// orders.v1, inventory.v1, payments.v1 and notifications.v1, each partition in offset order.
    var records: [TopicRecord] = []
    /// Records whose envelope or payload did not decode (they cannot be checked).
    var undecodableRecords: [String] = []
    /// The orders a run got a 202 for; nil when auditing without a run.
    var acceptedOrderIds: Set<String>? = nil
    /// The topics' extent when the read started, every partition (empty ones too).
    var watermarks: [PartitionRef: Watermarks] = [:]
    /// Every service instance's consumer and metrics, read after the topics.
    var instances: [InstanceState] = []
}
