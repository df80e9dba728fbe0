/// Why a Kafka message could not be turned into an event.
///
/// Every case is a permanent property of the message (retrying cannot help), so a
/// consumer sends it to `deadletter.v1` with `description` as the error text; the
/// exception is `unknownEventType`, which a consumer may choose to skip instead
/// (a newer producer added an event type this consumer does not need, see EVOLUTION.md).
public enum EventDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A required envelope header is absent.
    case missingHeader(name: String)
    /// A header is present but its value is not what the envelope requires.
    /// `value` is a printable rendering of the bytes (quoted text, or hex if not UTF-8).
    case malformedHeader(name: String, value: String, expected: String)
    /// An envelope header appears more than once with different values.
    case duplicateHeader(name: String, values: [String])
    /// The `event-type` header names no event this code knows.
    case unknownEventType(String)
    /// The `schema-version` header is outside what this code reads.
    case unsupportedSchemaVersion(eventType: EventType, version: Int, supported: ClosedRange<Int>)
    /// The message has no payload (a null value / tombstone).
    case missingPayload(eventType: EventType)
    /// The payload is not a valid protobuf encoding of the event's message.
    case malformedPayload(eventType: EventType, reason: String)
    /// The `order-id` header and the payload's `order_id` disagree.
    case orderIdMismatch(eventType: EventType, header: String, payload: String)
    /// The event type is not one that is written to the topic it was read from.
    case eventTypeNotAllowedOnTopic(eventType: EventType, topic: String)

    public var description: String {
        switch self {
        case let .missingHeader(name):
            "missing header '\(name)'"
        case let .malformedHeader(name, value, expected):
            "malformed header '\(name)': got \(value), expected \(expected)"
        case let .duplicateHeader(name, values):
            "header '\(name)' appears more than once with different values: \(values.joined(separator: ", "))"
        case let .unknownEventType(type):
            "unknown event type \(HeaderText.render(Array(type.utf8))) (known: \(EventType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .unsupportedSchemaVersion(type, version, supported):
            "unsupported schema-version \(version) for \(type): this code reads \(supported.lowerBound == supported.upperBound ? "\(supported.lowerBound)" : "\(supported.lowerBound)...\(supported.upperBound)")"
        case let .missingPayload(type):
            "\(type) message has no payload (null value)"
        case let .malformedPayload(type, reason):
            "malformed \(type) payload: \(reason)"
        case let .orderIdMismatch(type, header, payload):
            "\(type): header order-id \(HeaderText.render(Array(header.utf8))) does not match payload order_id \(HeaderText.render(Array(payload.utf8)))"
        case let .eventTypeNotAllowedOnTopic(type, topic):
            "\(type) is not allowed on topic '\(topic)' (it belongs on '\(type.topic.name)')"
        }
    }
}

/// Printable renderings of untrusted header bytes for error messages and logs.
public enum HeaderText {
    public static let maxRenderedCharacters = 80

    /// Quoted, escaped, truncated text; hex when the bytes are not UTF-8; `<null>` for a null value.
    public static func render(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "<null>" }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let hex = bytes.prefix(32).map { byte in
                let digits = String(byte, radix: 16)
                return byte < 16 ? "0" + digits : digits
            }.joined()
            return "0x\(hex)\(bytes.count > 32 ? "…" : "") (\(bytes.count) bytes, not UTF-8)"
        }
        var escaped = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == maxRenderedCharacters {
                escaped += "…"
                break
            }
            escaped += scalar.escaped(asASCII: false)
            count += 1
        }
        return "\"\(escaped)\""
    }
}
