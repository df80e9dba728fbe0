import CRdKafka

/// A librdkafka error with its code, symbolic name and the operation that failed.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The raw `rd_kafka_resp_err_t` value.
    public let code: Int32
    /// librdkafka's symbolic name, e.g. `_QUEUE_FULL` or `TOPIC_ALREADY_EXISTS`.
    public let name: String
    public let message: String
    public let operation: String

    init(_ err: rd_kafka_resp_err_t, operation: String, message: String? = nil) {
        self.code = err.rawValue
        self.name = String(cString: rd_kafka_err2name(err))
        self.message = message ?? String(cString: rd_kafka_err2str(err))
        self.operation = operation
    }

    /// Takes ownership of an `rd_kafka_error_t` and destroys it.
    init(consuming error: OpaquePointer, operation: String) {
        self.init(rd_kafka_error_code(error), operation: operation,
                  message: String(cString: rd_kafka_error_string(error)))
        rd_kafka_error_destroy(error)
    }

    /// An error raised by this library itself rather than by librdkafka.
    static func local(_ message: String, operation: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__FAIL, operation: operation, message: message)
    }

    public var description: String { "\(operation) failed: \(message) (\(name))" }

    var responseCode: rd_kafka_resp_err_t { rd_kafka_resp_err_t(rawValue: code) }
    public var isQueueFull: Bool { responseCode == RD_KAFKA_RESP_ERR__QUEUE_FULL }
    public var isTopicAlreadyExists: Bool { responseCode == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS }

    /// The handle cannot go on (librdkafka's fatal errors, e.g. an idempotent producer whose
    /// sequence would have a gap): replace it.
    public var isFatal: Bool {
        responseCode == RD_KAFKA_RESP_ERR__FATAL || responseCode == RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE
    }

    /// Sending again later may succeed: the broker or the network failed, or time ran out.
    /// A record too large, an invalid one or a fatal error fails the same way every time.
    public var isRetriable: Bool {
        switch responseCode {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_RECORD, RD_KAFKA_RESP_ERR_INVALID_MSG,
             RD_KAFKA_RESP_ERR__INVALID_ARG, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
             RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            return false
        default:
            return !isFatal
        }
    }

    public var isMessageTimedOut: Bool { responseCode == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT }

    /// `_AUTO_OFFSET_RESET`: with `auto.offset.reset=error`, the fetch position is not in the log.
    public static let autoOffsetReset = RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET.rawValue
    public static let offsetOutOfRange = RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE.rawValue
}

/// The text in a NUL-terminated C buffer filled by librdkafka.
func text(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
