import EventSchema
import Foundation
import Persistence
import PropertyBased
import SagaAPI
import SeededRandom
@testable import ServiceKit
import Testing

/// The lines column's byte-level writer and reader: what it writes is JSON that JSONDecoder reads
/// alike, it reads what JSONEncoder wrote before it, and it refuses what is not lines.
@Suite struct LinesColumnTests {
    /// Characters a SKU or currency could hold, the awkward ones included.
    static let characters: [String] = ["A", "z", "0", "-", "_", " ", "\"", "\\", "/", "\n", "\u{01}", "\u{1F}", "é", "€", "😀", "{", "]", ",", ":"]

    static func lines(seed: Int) -> [Saga_V1_OrderLine] {
        var random = SplitMix64(seed: UInt64(seed))
        return (0..<random.int(in: 0...5)).map { _ in
            var line = Saga_V1_OrderLine()
            line.sku = (0..<random.int(in: 0...12)).map { _ in characters[random.int(in: 0...(characters.count - 1))] }.joined()
            line.quantity = Int32(truncatingIfNeeded: Int64(bitPattern: random.next()) >> random.int(in: 0...40))
            if random.int(in: 0...2) > 0 {
                let currency = (0..<random.int(in: 0...4)).map { _ in characters[random.int(in: 0...(characters.count - 1))] }.joined()
                line.unitPrice = Saga_V1_Money(minorUnits: Int64(bitPattern: random.next()) >> random.int(in: 0...63), currency: currency)
            }
            return line
        }
    }

    static func text(_ value: SQLValue) -> String {
        guard case .text(let text) = value else { Issue.record("not text: \(value)"); return "" }
        return text
    }

    @Test func whatItWritesReadsBackAndIsTheJSONOfTheWireLines() async throws {
        await propertyCheck(count: 400, input: Gen.int(in: 0...1_000_000)) { seed in
            let lines = Self.lines(seed: seed)
            let text = Self.text(LinesColumn.encode(lines))
            #expect(try LinesColumn.decode(text) == lines)
            let viaFoundation = try JSONDecoder().decode([Line].self, from: Data(text.utf8)).map(\.proto)
            #expect(viaFoundation == lines)
            // Without escapes the byte-level reader reads it, not the fallback.
            if !text.contains("\\") { #expect(LinesColumn.readWritten(text) == lines, "\(text)") }
        }
    }

    @Test func theExtremesOfTheIntegersTakeTheByteLevelPath() throws {
        var line = Saga_V1_OrderLine()
        line.sku = "SKU-1"
        for (quantity, minorUnits) in [(Int32.min, Int64.min), (Int32.max, Int64.max), (0, 0), (-1, -1)] {
            line.quantity = quantity
            line.unitPrice = Saga_V1_Money(minorUnits: minorUnits, currency: "EUR")
            let text = Self.text(LinesColumn.encode([line]))
            #expect(LinesColumn.readWritten(text) == [line], "\(text)")
        }
        #expect(LinesColumn.readWritten(#"[{"quantity":9223372036854775808,"sku":"A"}]"#) == nil, "beyond Int64")
        #expect(LinesColumn.readWritten(#"[{"quantity":01,"sku":"A"}]"#) == nil, "a leading zero")
    }

    @Test func readsWhatJSONEncoderWroteBefore() async throws {
        await propertyCheck(count: 300, input: Gen.int(in: 0...1_000_000)) { seed in
            let lines = Self.lines(seed: seed)
            let encoder = JSONEncoder()
            encoder.outputFormatting = seed % 2 == 0 ? [.sortedKeys, .withoutEscapingSlashes] : [.prettyPrinted]
            let old = String(decoding: try encoder.encode(lines.map { Line($0) }), as: UTF8.self)
            #expect(try LinesColumn.decode(old) == lines)
        }
        #expect(try LinesColumn.decode(nil) == [])
        #expect(try LinesColumn.decode("[]") == [])
        #expect(try LinesColumn.decode(#" [ {"sku":"A","quantity":2} ] "#).map(\.quantity) == [2])
    }

    @Test func refusesWhatIsNotLines() {
        for corrupt in ["", "[", "]", "{}", #"[{"quantity":1}]"#, #"[{"quantity":1,"sku":"A"}"#, #"[{"quantity":"1","sku":"A"}]"#,
                        #"[{"quantity":99999999999,"sku":"A"}]"#, #"[{"quantity":1,"sku":"A"}]x"#] {
            #expect(throws: SQLError.self, "\(corrupt)") { try LinesColumn.decode(corrupt) }
        }
    }
}
