import Foundation

extension Saga_V1_DeadLetter {
    /// A dead letter for a consumed message, keeping key, headers and payload byte
    /// for byte (null stays null) so it can be replayed. `orderID` is taken from a
    /// non-empty UTF-8 `order-id` header, else from a UTF-8 key, else left empty.
    public init(
        originTopic: String,
        originPartition: Int32,
        originOffset: Int64,
        originTimestampUnixMs: Int64 = 0,
        key: [UInt8]?,
        headers: some Sequence<(name: String, value: [UInt8]?)>,
        payload: [UInt8]?,
        error: String,
        errorKind: ErrorKind,
        consumerGroup: String,
        failedAtUnixMs: Int64 = EventEnvelope.nowUnixMs()
    ) {
        self.init()
        self.originTopic = originTopic
        self.originPartition = originPartition
        self.originOffset = originOffset
        self.originTimestampUnixMs = originTimestampUnixMs
        if let key { self.key = Data(key) }
        var orderFromHeader: String?
        for (name, value) in headers {
            var header = Header()
            header.name = name
            if let value { header.value = Data(value) }
            originHeaders.append(header)
            if name == EventEnvelope.Header.orderId, let value,
               let text = String(validating: value, as: UTF8.self), !text.isEmpty {
                orderFromHeader = text
            }
        }
        if let payload { self.payload = Data(payload) }
        self.error = error
        self.errorKind = errorKind
        self.consumerGroup = consumerGroup
        self.failedAtUnixMs = failedAtUnixMs
        orderID = orderFromHeader ?? key.flatMap { String(validating: $0, as: UTF8.self) } ?? ""
    }

    /// The original headers in Kafka's shape, e.g. to replay the message.
    public var originalHeaders: [(name: String, value: [UInt8]?)] {
        originHeaders.map { (name: $0.name, value: $0.hasValue ? [UInt8]($0.value) : nil) }
    }
}
