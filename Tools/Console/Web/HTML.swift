import Foundation

/// HTML that is safe to put in a page: text is escaped when it becomes HTML, so a value from a
/// record (a header, an error, an order id someone chose) can never become markup or script.
struct HTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    fileprivate(set) var raw: String

    /// Markup written in this file's callers, trusted as it is.
    init(trusted raw: String) { self.raw = raw }
    init(stringLiteral value: String) { raw = value }
    init(stringInterpolation: Interpolation) { raw = stringInterpolation.raw }

    var description: String { raw }

    static let empty = HTML(trusted: "")

    struct Interpolation: StringInterpolationProtocol {
        var raw = ""
        init(literalCapacity: Int, interpolationCount: Int) { raw.reserveCapacity(literalCapacity * 2) }
        mutating func appendLiteral(_ literal: String) { raw += literal }
        /// Text: escaped.
        mutating func appendInterpolation<T>(_ value: T) { raw += HTML.escape("\(value)") }
        mutating func appendInterpolation(_ html: HTML) { raw += html.raw }
        mutating func appendInterpolation(_ parts: [HTML]) { for part in parts { raw += part.raw } }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func join(_ parts: [HTML], separator: HTML = .empty) -> HTML {
        HTML(trusted: parts.map(\.raw).joined(separator: separator.raw))
    }
}

/// Query strings and path segments built from values.
enum URLText {
    static func component(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func query(_ pairs: [(String, String?)]) -> String {
        let present = pairs.compactMap { name, value in value.flatMap { $0.isEmpty ? nil : "\(component(name))=\(component($0))" } }
        return present.isEmpty ? "" : "?" + present.joined(separator: "&")
    }
}

/// Times as operators read them: UTC, to the millisecond.
enum TimeText {
    static func iso(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    static func age(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: "%.0f ms", seconds * 1000) }
        if seconds < 120 { return String(format: "%.1f s", seconds) }
        if seconds < 7200 { return String(format: "%.0f min", seconds / 60) }
        return String(format: "%.1f h", seconds / 3600)
    }
}
