import Foundation

/// What a Grafana dashboard asks Prometheus for, and what a /metrics page offers.
enum DashboardQueries {
    /// Every `targets[].expr` of every panel (rows' nested panels included).
    static func expressions(_ json: Data) throws -> [String] {
        func panels(_ object: Any) -> [[String: Any]] {
            guard let list = object as? [[String: Any]] else { return [] }
            return list + list.flatMap { panels($0["panels"] ?? []) }
        }
        let dashboard = try JSONSerialization.jsonObject(with: json) as? [String: Any] ?? [:]
        return panels(dashboard["panels"] ?? []).flatMap { panel in
            (panel["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String }
        }
    }

    /// PromQL functions, aggregations and keywords: identifiers that are not metric names.
    static let keywords: Set<String> = [
        "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "delta", "histogram_quantile", "by",
        "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "topk", "bottomk",
        "clamp_min", "clamp_max", "abs", "time", "vector", "offset", "bool",
    ]

    /// The metric names of a PromQL expression: its identifiers, less label matchers (`{…}`),
    /// ranges (`[…]`), grouping lists (`by (…)`), strings and keywords.
    static func metricNames(_ expression: String) -> Set<String> {
        var text = expression
        for pattern in [#"\{[^}]*\}"#, #"\[[^\]]*\]"#, #"\b(by|without|on|ignoring)\s*\([^)]*\)"#, #""[^"]*""#] {
            text = text.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        let identifiers = text.split { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
        return Set(identifiers.map(String.init).filter { !keywords.contains($0) && !($0.first?.isNumber ?? true) })
    }

    /// The sample names of a Prometheus text page (`name{labels} value` or `name value` lines).
    static func sampleNames(_ page: String) -> Set<String> {
        Set(page.split(separator: "\n").compactMap { line -> String? in
            guard !line.hasPrefix("#"), let end = line.firstIndex(where: { $0 == "{" || $0 == " " }) else { return nil }
            return String(line[..<end])
        })
    }
}
