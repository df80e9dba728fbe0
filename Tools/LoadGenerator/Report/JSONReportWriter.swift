import Foundation

/// Writes a report as pretty, key-sorted JSON (stable diffs between runs).
enum JSONReportWriter {
    static func write(_ value: some Encodable, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Scraped metrics are doubles; a NaN must not make the whole report unwritable.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        do {
            try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw LoadGenError("cannot write the report to \(path) (--report): \(error.localizedDescription)")
        }
    }
}
