import EventSchema
import Foundation
import Observability
import Persistence
import SagaAPI

/// Order lines stored as one JSON text column: read whole, never queried by parts. Written and
/// read on every transition of Order and Inventory, so the one shape written here,
/// `[{"quantity":2,"sku":"SKU-1","unitPrice":{"currency":"EUR","minorUnits":500}}]` (keys
/// sorted, no spaces, the price optional), has a byte-level writer and reader; any other JSON
/// text (rows written before, or by hand) goes through JSONDecoder, so both read alike.
public enum LinesColumn {
    public static func encode(_ lines: [Saga_V1_OrderLine]) -> SQLValue {
        var out = "["
        out.reserveCapacity(lines.count * 80 + 2)
        for (index, line) in lines.enumerated() {
            if index > 0 { out += "," }
            out += #"{"quantity":"#
            out += String(line.quantity)
            out += #","sku":"#
            JSONString.append(line.sku, to: &out)
            if line.hasUnitPrice {
                out += #","unitPrice":{"currency":"#
                JSONString.append(line.unitPrice.currency, to: &out)
                out += #","minorUnits":"#
                out += String(line.unitPrice.minorUnits)
                out += "}"
            }
            out += "}"
        }
        out += "]"
        return .text(out)
    }

    public static func decode(_ text: String?) throws -> [Saga_V1_OrderLine] {
        guard let text else { return [] }
        if let lines = readWritten(text) { return lines }
        do {
            return try JSONDecoder().decode([Line].self, from: Data(text.utf8)).map(\.proto)
        } catch {
            throw SQLError.permanent("corrupt lines column: \(error)")
        }
    }

    /// The lines when `text` has exactly the shape `encode` writes, without escapes; else nil.
    static func readWritten(_ text: String) -> [Saga_V1_OrderLine]? {
        func read(_ buffer: UnsafeBufferPointer<UInt8>) -> [Saga_V1_OrderLine]? {
            var reader = Reader(bytes: buffer)
            return reader.lines()
        }
        // A native string's UTF-8 is contiguous: read in place, copy only a bridged one.
        return text.utf8.withContiguousStorageIfAvailable(read) ?? Array(text.utf8).withUnsafeBufferPointer(read)
    }

    /// Reads exactly the shape `encode` writes, strings without escapes; nil for anything else
    /// (the caller then asks JSONDecoder).
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func lines() -> [Saga_V1_OrderLine]? {
            guard take("[") else { return nil }
            var lines: [Saga_V1_OrderLine] = []
            if take("]") { return position == bytes.count ? lines : nil }
            repeat {
                guard take(#"{"quantity":"#), let quantity = integer(), let quantity32 = Int32(exactly: quantity),
                      take(#","sku":"#), let sku = string() else { return nil }
                var line = Saga_V1_OrderLine()
                line.quantity = quantity32
                line.sku = sku
                if take(#","unitPrice":{"currency":"#) {
                    guard let currency = string(), take(#","minorUnits":"#), let minorUnits = integer(), take("}") else { return nil }
                    line.unitPrice = Saga_V1_Money(minorUnits: minorUnits, currency: currency)
                }
                guard take("}") else { return nil }
                lines.append(line)
            } while take(",")
            guard take("]"), position == bytes.count else { return nil }
            return lines
        }

        private mutating func take(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - position >= count else { return false }
            let matches = literal.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[position + $0] == expected[$0] }
            }
            if matches { position += count }
            return matches
        }

        /// An optional minus and digits without a leading zero, as `String(Int64)` writes them.
        private mutating func integer() -> Int64? {
            var index = position
            let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            let digitsStart = index
            var magnitude: UInt64 = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, carry) = times10.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
                guard !overflow, !carry else { return nil }
                magnitude = sum
                index += 1
            }
            let digits = index - digitsStart
            guard digits > 0, !(digits > 1 && bytes[digitsStart] == UInt8(ascii: "0")) else { return nil }
            let value: Int64
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
                value = magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
            } else {
                guard let exact = Int64(exactly: magnitude) else { return nil }
                value = exact
            }
            position = index
            return value
        }

        /// A string without escapes or control characters.
        private mutating func string() -> String? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            var index = position + 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                guard bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 else { return nil }
                index += 1
            }
            guard index < bytes.count else { return nil }
            let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[(position + 1)..<index]), as: UTF8.self)
            position = index + 1
            return value
        }
    }
}
