import Kafka

/// Kafka headers in one outbox column: per header a 2-byte name length, the name, a 4-byte value
/// length (-1 for a null value) and the value, big-endian. Order and duplicates are kept.
enum HeaderCodec {
    static func encode(_ headers: [(name: String, value: [UInt8]?)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headers.reduce(0) { $0 + 6 + $1.name.utf8.count + ($1.value?.count ?? 0) })
        for (name, value) in headers {
            let nameBytes = Array(name.utf8)
            append(UInt16(nameBytes.count), to: &out)
            out.append(contentsOf: nameBytes)
            if let value {
                append(UInt32(value.count), to: &out)
                out.append(contentsOf: value)
            } else {
                append(UInt32.max, to: &out)
            }
        }
        return out
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String { "malformed outbox headers column" }
    }

    static func decode(_ bytes: [UInt8]) throws -> [KafkaHeader] {
        var headers: [KafkaHeader] = []
        var index = 0
        func read(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, index + count <= bytes.count else { throw Malformed() }
            defer { index += count }
            return bytes[index..<index + count]
        }
        func integer(_ width: Int) throws -> UInt32 {
            try read(width).reduce(0) { $0 << 8 | UInt32($1) }
        }
        while index < bytes.count {
            let nameLength = Int(try integer(2))
            let name = String(decoding: try read(nameLength), as: UTF8.self)
            let valueLength = try integer(4)
            let value = valueLength == UInt32.max ? nil : Array(try read(Int(valueLength)))
            headers.append(KafkaHeader(key: name, value: value))
        }
        return headers
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }
}
