import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging

/// One JSON object per line on stderr (`LOG_FORMAT=json`): `ts` (ISO 8601, UTC, milliseconds),
/// `level`, `label`, `message`, then every metadata key at the top level (`order-id`,
/// `event-id`, `correlation-id`, `trace-id`, `span-id`, `component`, …; a nested value is a JSON
/// object or array). Keys are sorted, so lines of one kind diff cleanly; the fixed four come first.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil,
                write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(event.level.rawValue)\",\"label\":"
        JSONString.append(label, to: &line)
        line += ",\"message\":"
        JSONString.append(event.message.description, to: &line)
        if let error = event.error {
            line += ",\"error\":"
            JSONString.append("\(error)", to: &line)
        }
        for key in merged.keys.sorted() {
            line += ","
            JSONString.append(key, to: &line)
            line += ":"
            Self.append(merged[key]!, to: &line)
        }
        line += "}\n"
        write(line)
    }

    /// One `write(2)` per line (unbuffered, as stderr is), so lines of concurrent loggers stay whole.
    public static let standardError: @Sendable (String) -> Void = { line in
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 { offset += written } else if errno != EINTR { return }
            }
        }
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(now.tv_nsec / 1_000_000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    private static func append(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let text): JSONString.append(text, to: &line)
        case .stringConvertible(let convertible): JSONString.append(convertible.description, to: &line)
        case .array(let values):
            line += "["
            for (index, element) in values.enumerated() {
                if index > 0 { line += "," }
                append(element, to: &line)
            }
            line += "]"
        case .dictionary(let dictionary):
            line += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                JSONString.append(key, to: &line)
                line += ":"
                append(dictionary[key]!, to: &line)
            }
            line += "}"
        }
    }
}

/// How a process writes its log lines.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's stream format: one line per record, metadata inline.
    case text
    /// `JSONLogHandler`.
    case json
}
