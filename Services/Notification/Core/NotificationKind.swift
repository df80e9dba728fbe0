import EventSchema

/// The notifications an order can get, one of each at most; stored in the `kind` column.
public enum NotificationKind: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case orderConfirmed = "ORDER_CONFIRMED"
    case orderCancelled = "ORDER_CANCELLED"

    /// The kind a terminal order event calls for; nil for any other event.
    public init?(for event: SagaEvent) {
        switch event {
        case .orderConfirmed: self = .orderConfirmed
        case .orderCancelled: self = .orderCancelled
        default: return nil
        }
    }

    public var description: String { rawValue }

    public var proto: Saga_V1_NotificationSent.Kind {
        switch self {
        case .orderConfirmed: .orderConfirmed
        case .orderCancelled: .orderCancelled
        }
    }
}
