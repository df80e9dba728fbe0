/// What a run saw of one accepted order, on the wall clock (unix ms) the fault windows use.
struct OrderLife: Sendable, Equatable {
    var orderId: String
    /// Its partition number on every saga topic (murmur2 of the order id, as the services key it).
    var partition: Int32
    var acceptedAt: Int64
    /// When its terminal event was seen (or the drain learned it from the API); nil: never.
    var endedAt: Int64?
    var outcome: Outcome?

    var isTimeoutCancellation: Bool { outcome == .cancelled(reason: "timeout") }
}
