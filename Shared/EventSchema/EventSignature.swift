import Foundation

/// Who wrote a record, proven: every service signs what it writes (Ed25519) and every reader
/// checks that the signer is the topic's writer in the catalog before it believes a byte of it.
///
/// The signature travels in the `signature` header as
/// `<key-id>:<base64url signature>:<index>:<count>:<base64url path>` and covers, in one
/// canonical byte string per event: the key id, the topic, the record key, the payload and
/// every envelope header a decision reads (all of `EventEnvelope.Header.all` except
/// `traceparent`, which the relay rewrites at send time and nothing decides on). One signature
/// covers all the events a transaction writes: it signs the root of a Merkle tree of their
/// bytes, and each record carries its index, the tree's size and its path (`SignatureTree`). The envelope
/// is signed in its canonical text form, so a reader that decoded `ABC…` and `abc…` as the same
/// UUID also checks the same bytes. The partition is not covered (a producer does not know it
/// before the send); a record moved to another partition is caught by the co-partitioning check.
///
/// A replayed dead letter carries the original record, still under its producer's signature,
/// plus `replay-of` and a `replay-signature` by an operator key over the same fields and the
/// `replay-of` value: only an operator can make a copy count as new.
public enum EventSignature {
    public static let header = "signature"
    public static let replayHeader = "replay-signature"

    static let eventDomain = Array("order-saga event signature v1\u{0}".utf8)
    static let replayDomain = Array("order-saga replay signature v1\u{0}".utf8)

    /// The bytes an event's signature covers.
    public static func message(keyId: String, topic: String, key: [UInt8]?, payload: [UInt8]?,
                               envelope: EventEnvelope) -> [UInt8] {
        var out = eventDomain
        out.reserveCapacity(256 + (payload?.count ?? 0))
        appendFields(keyId: keyId, topic: topic, key: key, payload: payload, envelope: envelope, to: &out)
        return out
    }

    /// The bytes an operator's replay signature covers: the event's fields and `replayOf`.
    public static func replayMessage(keyId: String, topic: String, key: [UInt8]?, payload: [UInt8]?,
                                     envelope: EventEnvelope, replayOf: UUID) -> [UInt8] {
        var out = replayDomain
        appendFields(keyId: keyId, topic: topic, key: key, payload: payload, envelope: envelope, to: &out)
        append(Array(replayOf.uuidString.lowercased().utf8), to: &out)
        return out
    }

    private static func appendFields(keyId: String, topic: String, key: [UInt8]?, payload: [UInt8]?,
                                     envelope: EventEnvelope, to out: inout [UInt8]) {
        append(Array(keyId.utf8), to: &out)
        append(Array(topic.utf8), to: &out)
        append(key, to: &out)
        append(payload, to: &out)
        for header in envelope.headers() where header.name != EventEnvelope.Header.traceparent {
            append(Array(header.name.utf8), to: &out)
            append(header.value, to: &out)
        }
    }

    /// A length-prefixed field (4 bytes, big-endian); absent is the length 0xFFFFFFFF.
    private static func append(_ bytes: [UInt8]?, to out: inout [UInt8]) {
        let length = bytes.map { UInt32($0.count) } ?? UInt32.max
        withUnsafeBytes(of: length.bigEndian) { out.append(contentsOf: $0) }
        if let bytes { out.append(contentsOf: bytes) }
    }

    /// A `signature` (or `replay-signature`) header, parsed.
    public struct HeaderValue: Sendable, Equatable {
        public var keyId: String
        public var signature: [UInt8]
        /// The record's leaf in the signed tree, and the tree's size (0 and 1 for one event).
        public var index: Int
        public var count: Int
        public var path: [[UInt8]]
    }

    /// `<key-id>:<base64url signature>:<index>:<count>:<base64url of the path's hashes>`.
    public static func headerValue(keyId: String, signature: some DataProtocol, index: Int = 0, count: Int = 1,
                                   path: [[UInt8]] = []) -> [UInt8] {
        var value = Array(keyId.utf8)
        value.reserveCapacity(value.count + 100 + path.count * 43)
        value.append(UInt8(ascii: ":"))
        Base64URL.append(signature, to: &value)
        value.append(UInt8(ascii: ":"))
        value.append(contentsOf: String(index).utf8)
        value.append(UInt8(ascii: ":"))
        value.append(contentsOf: String(count).utf8)
        value.append(UInt8(ascii: ":"))
        Base64URL.append(path.joined(), to: &value)
        return value
    }

    /// The parts of a header value, or nil when it is not of that form.
    public static func parseHeaderValue(_ value: [UInt8]) -> HeaderValue? {
        guard value.count <= 4096 else { return nil }
        let fields = value.split(separator: UInt8(ascii: ":"), maxSplits: 4, omittingEmptySubsequences: false)
        guard fields.count == 5 else { return nil }
        let keyId = String(decoding: fields[0], as: UTF8.self)
        guard SigningKeyID.isValid(keyId),
              let signature = Base64URL.decode(fields[1]), signature.count == 64,
              let index = decimal(fields[2]), let count = decimal(fields[3]),
              count >= 1, count <= SignatureTree.maxLeaves, index < count,
              let pathBytes = Base64URL.decode(fields[4]), pathBytes.count % 32 == 0 else { return nil }
        let path = stride(from: 0, to: pathBytes.count, by: 32).map { Array(pathBytes[$0..<$0 + 32]) }
        return HeaderValue(keyId: keyId, signature: signature, index: index, count: count, path: path)
    }

    private static func decimal(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard (1...6).contains(bytes.count), bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(String(decoding: bytes, as: UTF8.self))
    }
}

/// Key ids: 1 to 64 of `A-Z a-z 0-9 . _ -`, so they can sit in a header and a file name.
public enum SigningKeyID {
    public static func isValid(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.utf8.allSatisfy {
            (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
        }
    }
}

/// Base64url without padding (RFC 4648 §5), as JOSE writes keys and signatures. Byte-level:
/// every event's signature header is written and read with it, so it stays off Foundation's
/// string bridging. Decoding takes the canonical form only (no padding, unused bits zero), so a
/// value has one spelling.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let invalid: UInt8 = 0xFF
    private static let sextets: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }()

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the encoding of `bytes` to `out`.
    public static func append(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + (bytes.count * 4 + 2) / 3)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = second == nil ? nil : iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(group >> 18)])
            out.append(alphabet[Int(group >> 12 & 0x3F)])
            if second != nil { out.append(alphabet[Int(group >> 6 & 0x3F)]) }
            if third != nil { out.append(alphabet[Int(group & 0x3F)]) }
        }
    }

    public static func decode(_ text: String) -> [UInt8]? { decode(text.utf8) }

    public static func decode(_ bytes: some Collection<UInt8>) -> [UInt8]? {
        let remainder = bytes.count % 4
        guard remainder != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3 / 4)
        var group: UInt32 = 0
        var filled = 0
        for character in bytes {
            let value = sextets[Int(character)]
            guard value != invalid else { return nil }
            group = group << 6 | UInt32(value)
            filled += 1
            if filled == 4 {
                out.append(UInt8(group >> 16))
                out.append(UInt8(group >> 8 & 0xFF))
                out.append(UInt8(group & 0xFF))
                group = 0
                filled = 0
            }
        }
        switch filled {
        case 2:  // 12 bits: one byte, 4 unused
            guard group & 0xF == 0 else { return nil }
            out.append(UInt8(group >> 4))
        case 3:  // 18 bits: two bytes, 2 unused
            guard group & 0x3 == 0 else { return nil }
            out.append(UInt8(group >> 10))
            out.append(UInt8(group >> 2 & 0xFF))
        default:
            break
        }
        return out
    }
}
