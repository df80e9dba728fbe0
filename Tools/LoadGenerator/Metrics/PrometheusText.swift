/// One sample of the Prometheus text exposition format: `name{label="value",...} value [timestamp]`.
struct PrometheusSample: Sendable, Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A small reader for the Prometheus text format (version 0.0.4): enough to sum counters
/// the services expose. Comment lines (`# HELP`, `# TYPE`) and malformed lines are skipped,
/// so one odd line never hides the rest.
enum PrometheusText {
    static func parse(_ text: String) -> [PrometheusSample] {
        text.split(whereSeparator: \.isNewline).compactMap { parseLine(Substring($0)) }
    }

    static func parseLine(_ line: Substring) -> PrometheusSample? {
        var rest = line.drop { $0 == " " || $0 == "\t" }
        guard let first = rest.first, first != "#" else { return nil }
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
        guard !name.isEmpty else { return nil }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            guard let parsed = parseLabels(&rest) else { return nil }
            labels = parsed
        }
        let fields = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let valueText = fields.first, let value = parseValue(valueText) else { return nil }
        return PrometheusSample(name: String(name), labels: labels, value: value)
    }

    /// Reads `{a="x",b="y\"z"}` from the front of `text`, leaving what follows.
    private static func parseLabels(_ text: inout Substring) -> [String: String]? {
        var labels: [String: String] = [:]
        text = text.dropFirst() // {
        while true {
            text = text.drop { $0 == " " || $0 == "," }
            if text.first == "}" {
                text = text.dropFirst()
                return labels
            }
            let name = text.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            guard !name.isEmpty else { return nil }
            text = text.dropFirst(name.count).drop { $0 == " " }
            guard text.first == "=" else { return nil }
            text = text.dropFirst().drop { $0 == " " }
            guard text.first == "\"" else { return nil }
            text = text.dropFirst()
            var value = ""
            var closed = false
            while let character = text.first {
                text = text.dropFirst()
                if character == "\"" { closed = true; break }
                if character == "\\", let escaped = text.first {
                    text = text.dropFirst()
                    switch escaped {
                    case "n": value.append("\n")
                    default: value.append(escaped) // \\ and \"
                    }
                } else {
                    value.append(character)
                }
            }
            guard closed else { return nil }
            labels[String(name)] = value
        }
    }

    private static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }
}
