import EventSchema
import Foundation
import PropertyBased
import SeededRandom
import Testing

/// The byte-level base64url every signature header is written and read with, held to
/// Foundation's base64 (the `+/` alphabet with `=` padding, translated) as the reference.
@Suite struct Base64URLTests {
    static func reference(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func bytes(count: Int, seed: Int) -> [UInt8] {
        var generator = SplitMix64(seed: UInt64(seed))
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    @Test func encodesAsTheReferenceAndDecodesBack() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...300), Gen.int(in: 0...1_000_000)) { count, seed in
            let bytes = Self.bytes(count: count, seed: seed)
            let text = Base64URL.encode(bytes)
            #expect(text == Self.reference(bytes))
            #expect(Base64URL.decode(text) == bytes)
            var appended = Array("prefix:".utf8)
            Base64URL.append(bytes, to: &appended)
            #expect(appended == Array(("prefix:" + text).utf8))
        }
    }

    @Test func refusesWhatNoEncoderWrites() async {
        #expect(Base64URL.decode("") == [])
        #expect(Base64URL.decode("QQ") == [0x41])
        #expect(Base64URL.decode("QQ==") == nil, "padding")
        #expect(Base64URL.decode("QR") == nil, "unused bits set: a second spelling of 'A'")
        #expect(Base64URL.decode("QUI") == [0x41, 0x42])
        #expect(Base64URL.decode("QUJ") == nil, "unused bits set")
        #expect(Base64URL.decode("Q") == nil, "a length no encoding has")
        #expect(Base64URL.decode("ab+/") == nil, "the other alphabet")
        #expect(Base64URL.decode("ab c") == nil)
        await propertyCheck(count: 300, input: Gen.int(in: 1...60), Gen.int(in: 0...1_000_000)) { count, seed in
            var text = Array(Base64URL.encode(Self.bytes(count: count, seed: seed)).utf8)
            // Any byte outside the alphabet, anywhere, makes the whole value invalid.
            let outside: [UInt8] = [0x00, 0x20, 0x2B, 0x2F, 0x3D, 0x2E, 0x7F, 0xC3, 0xFF]
            text[seed % text.count] = outside[seed % outside.count]
            #expect(Base64URL.decode(text) == nil)
        }
    }
}
