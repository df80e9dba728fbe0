import DeadLetterQueue
import Foundation
import SagaTimeline

/// An order's saga as a sequence diagram, in SVG made on the server: one lifeline per service,
/// one arrow per event from the service that wrote it to each service that acted on it (a dot
/// on its own lifeline when nothing followed from it), and a red arrow to the dead-letter
/// lifeline for each record of the order a service could not process. Every label is escaped.
enum SequenceDiagram {
    static let services = ["order", "inventory", "payment", "notification"]
    static let columnWidth = 170
    static let left = 90
    static let top = 56
    static let rowHeight = 30

    struct Row: Sendable, Equatable {
        var from: String
        var to: [String]
        var label: String
        var deadLetter: Bool
    }

    static func rows(_ timeline: OrderTimeline, deadLetters: [DeadLetterRecord]) -> [Row] {
        var rows: [(Int64, Row)] = timeline.steps.map { step in
            (step.producedAtMs, Row(from: step.service, to: step.consumedBy.filter { $0 != step.service },
                                    label: "\(step.eventType)  +\(step.atMs) ms", deadLetter: false))
        }
        for letter in deadLetters {
            rows.append((letter.producedAtUnixMs, Row(from: letter.service, to: ["dead letters"],
                                                      label: "\(letter.kind): \(letter.letter.error.prefix(60))", deadLetter: true)))
        }
        return rows.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func svg(_ timeline: OrderTimeline, deadLetters: [DeadLetterRecord]) -> HTML {
        let rows = rows(timeline, deadLetters: deadLetters)
        let lanes = services + (deadLetters.isEmpty ? [] : ["dead letters"])
        let width = left + columnWidth * (lanes.count - 1) + left
        let height = top + rowHeight * max(1, rows.count) + 30
        func x(_ lane: String) -> Int { left + columnWidth * (lanes.firstIndex(of: lane) ?? 0) }
        var parts: [HTML] = []
        for lane in lanes {
            let cx = x(lane)
            parts.append("""
                <rect class="actor" x="\(cx - 60)" y="8" width="120" height="26" rx="4"/>\
                <text x="\(cx)" y="25" text-anchor="middle">\(lane)</text>\
                <line class="lifeline" x1="\(cx)" y1="34" x2="\(cx)" y2="\(height - 10)"/>
                """)
        }
        for (i, row) in rows.enumerated() {
            let y = top + rowHeight * i + rowHeight / 2
            let from = x(row.from)
            let style = row.deadLetter ? "arrow deadletter" : "arrow"
            let head = row.deadLetter ? "head deadletter" : "head"
            if row.to.isEmpty {
                parts.append("<circle class=\"\(head)\" cx=\"\(from)\" cy=\"\(y)\" r=\"4\"/>")
            }
            for target in row.to {
                let to = x(target)
                let direction = to >= from ? 1 : -1
                parts.append("""
                    <line class="\(style)" x1="\(from)" y1="\(y)" x2="\(to - 7 * direction)" y2="\(y)"/>\
                    <polygon class="\(head)" points="\(to),\(y) \(to - 8 * direction),\(y - 4) \(to - 8 * direction),\(y + 4)"/>
                    """)
            }
            let targets = row.to.map(x)
            let span = ([from] + targets)
            let labelX = row.to.isEmpty ? from + 8 : (span.min()! + span.max()!) / 2
            let anchor = row.to.isEmpty ? "start" : "middle"
            parts.append("<text x=\"\(labelX)\" y=\"\(y - 5)\" text-anchor=\"\(anchor)\">\(row.label)</text>")
        }
        return """
            <svg class="sequence" xmlns="http://www.w3.org/2000/svg" role="img" width="\(width)" height="\(height)" \
            viewBox="0 0 \(width) \(height)"><title>Saga of order \(timeline.orderId)</title>\(parts)</svg>
            """
    }
}
