import Foundation
import PostgresNIO

extension PGConnection {
    static func affectedRows(_ metadata: PostgresQueryMetadata) -> Int {
        // A SELECT changes nothing (SQLite reports 0 too); its tag carries the rows returned.
        if metadata.command == "SELECT" { return 0 }
        if let rows = metadata.rows { return rows }
        // postgres-nio parses only some command tags ("MERGE 3" is left whole).
        if let last = metadata.command.split(separator: " ").last, let rows = Int(last) { return rows }
        return 0
    }

    /// `binaryCells`: the rows of a prepared statement (`PreparedQuery`). They come in binary, as
    /// every row does, but postgres-nio 1.33 labels their cells with the text format the statement's
    /// description had before its Bind asked for binary.
    static func decodeRows(_ rows: [PostgresRow], binaryCells: Bool = false) -> [SQLRow] {
        guard let first = rows.first else { return [] }
        let columns = first.map(\.columnName)
        var result: [SQLRow] = []
        result.reserveCapacity(rows.count)
        for row in rows {
            var values: [SQLValue] = []
            values.reserveCapacity(columns.count)
            for var cell in row {
                if binaryCells { cell.format = .binary }
                values.append(decodeCell(cell))
            }
            result.append(SQLRow(columns: columns, values: values))
        }
        return result
    }

    static func decodeCell(_ cell: PostgresCell) -> SQLValue {
        guard var buffer = cell.bytes else { return .null }
        if cell.format == .text {
            let string = String(buffer: buffer)
            switch cell.dataType {
            case .int2, .int4, .int8, .oid:
                if let value = Int64(string) { return .integer(value) }
            default:
                break
            }
            return .text(string)
        }
        switch cell.dataType {
        case .int8:
            if buffer.readableBytes == 8, let v = buffer.readInteger(as: Int64.self) { return .integer(v) }
        case .int4:
            if buffer.readableBytes == 4, let v = buffer.readInteger(as: Int32.self) { return .integer(Int64(v)) }
        case .int2:
            if buffer.readableBytes == 2, let v = buffer.readInteger(as: Int16.self) { return .integer(Int64(v)) }
        case .oid:
            if buffer.readableBytes == 4, let v = buffer.readInteger(as: UInt32.self) { return .integer(Int64(v)) }
        case .bool:
            if buffer.readableBytes == 1, let v = buffer.readInteger(as: UInt8.self) { return .integer(v == 0 ? 0 : 1) }
        case .bytea:
            return .blob(Array(buffer.readableBytesView))
        case .text, .varchar, .bpchar, .name, .json, .unknown:
            return .text(String(buffer: buffer))
        case .float4, .float8:
            if let v = try? cell.decode(Double.self) { return .text(String(v)) }
        case .numeric:
            if let v = PostgresData(type: .numeric, formatCode: .binary, value: buffer).numeric { return .text(v.string) }
        case .timestamptz, .timestamp:
            if buffer.readableBytes == 8, let micros = buffer.readInteger(as: Int64.self) {
                return .text(Self.formatTimestamp(micros: micros, utc: cell.dataType == .timestamptz))
            }
        case .jsonb, .uuid:
            if let v = try? cell.decode(String.self) { return .text(v) }
        default:
            break
        }
        // Other types: text if they are text on the wire (enums, citext, ...), else the raw bytes.
        let bytes = Array(buffer.readableBytesView)
        if !bytes.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }),
           let text = String(bytes: bytes, encoding: .utf8) {
            return .text(text)
        }
        return .blob(bytes)
    }

    /// ISO 8601 from PostgreSQL's binary timestamp (microseconds since 2000-01-01), exact to the
    /// microsecond (Foundation's Date would round through a Double).
    static func formatTimestamp(micros: Int64, utc: Bool) -> String {
        if micros == .max { return "infinity" }
        if micros == .min { return "-infinity" }
        let perDay: Int64 = 86_400_000_000
        var days = micros / perDay
        var rest = micros % perDay
        if rest < 0 { rest += perDay; days -= 1 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 10_957 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let seconds = rest / 1_000_000
        var fraction = rest % 1_000_000
        func pad(_ v: Int64, _ width: Int) -> String {
            let digits = String(v)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
        if fraction != 0 {
            var width = 6
            while fraction % 10 == 0 { fraction /= 10; width -= 1 }
            text += "." + pad(fraction, width)
        }
        return utc ? text + "Z" : text
    }
}
