import Foundation
import SeededRandom
@testable import Messaging
import XCTest

/// Event ids must not be predictable: a writer who can guess the next ids can put them in a
/// consumer's inbox first and so suppress real events. The attack below recovers a seeded
/// generator's state from one observed id and predicts the next one; it works against the
/// SplitMix64 generator the platform used before, and must not work against today's ids.
final class EventIdentifierTests: XCTestCase {
    func testOneObservedIdDoesNotRevealTheNext() {
        // The attack works against a SplitMix64 source, laid out as ids were made before.
        var splitMix = SplitMix64(seed: 0x1234_5678_9ABC_DEF0)
        var predicted = 0
        for _ in 0..<20 {
            let observed = Self.idBytes(splitMix.next2())
            let next = Self.idBytes(splitMix.next2())
            if Self.predictNext(after: observed).contains(next) { predicted += 1 }
        }
        XCTAssertEqual(predicted, 20, "the attack must work against a seeded SplitMix64, or it proves nothing")

        // Today's ids.
        var hits = 0
        for _ in 0..<200 {
            let observed = Self.randomBytes(UUID.timeOrdered())
            let next = Self.randomBytes(UUID.timeOrdered())
            if Self.predictNext(after: observed).contains(next) { hits += 1 }
        }
        XCTAssertEqual(hits, 0, "an event id revealed the next one")
    }

    func testIdsAreVersion7AndDistinct() {
        let ids = (0..<10_000).map { _ in UUID.timeOrdered() }
        XCTAssertEqual(Set(ids).count, ids.count)
        for id in ids.prefix(100) {
            let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
            XCTAssertEqual(bytes[6] >> 4, 7)
            XCTAssertEqual(bytes[8] >> 6, 0b10)
        }
    }

    /// Bytes 6...15 of an id, as made from the generator's two words (the layout of `timeOrdered`).
    static func idBytes(_ words: (UInt64, UInt64)) -> [UInt8] {
        var bytes = (6..<16).map { index -> UInt8 in
            index < 14 ? UInt8(truncatingIfNeeded: words.0 >> (8 * (index - 6))) : UInt8(truncatingIfNeeded: words.1 >> (8 * (index - 14)))
        }
        bytes[0] = 0x70 | (bytes[0] & 0x0F)
        bytes[2] = 0x80 | (bytes[2] & 0x3F)
        return bytes
    }

    static func randomBytes(_ id: UUID) -> [UInt8] {
        withUnsafeBytes(of: id.uuid) { Array($0[6..<16]) }
    }

    /// Every id a SplitMix64 source would give after `observed`: the first word's 58 visible
    /// bits plus the 6 the version and variant hide (64 candidates), the output function
    /// inverted to the state, the state stepped.
    static func predictNext(after observed: [UInt8]) -> Set<[UInt8]> {
        var visible: UInt64 = 0
        for (index, byte) in observed.prefix(8).enumerated() { visible |= UInt64(byte) << (8 * index) }
        var candidates = Set<[UInt8]>()
        for hidden in 0..<64 as Range<UInt64> {
            var word = visible & ~(0xF0 as UInt64) & ~(0xC0 << 16)
            word |= (hidden & 0xF) << 4
            word |= (hidden >> 4) << 22
            let state = SplitMix64.unmix(word)
            var source = SplitMix64(seed: state)
            _ = source.next()  // the observed id's second word
            candidates.insert(idBytes(source.next2()))
        }
        return candidates
    }
}

/// The generator ids came from before (SeededRandom's SplitMix64), and what makes it
/// predictable from one output: its state after a step is the inverse of that step's output.
extension SplitMix64 {
    mutating func next2() -> (UInt64, UInt64) { (next(), next()) }

    /// The state whose output is `output`: each step of SplitMix64's mix is invertible.
    static func unmix(_ output: UInt64) -> UInt64 {
        var z = unshift(output, 31)
        z = z &* inverse(0x94D0_49BB_1331_11EB)
        z = unshift(z, 27)
        z = z &* inverse(0xBF58_476D_1CE4_E5B9)
        return unshift(z, 30)
    }

    private static func unshift(_ value: UInt64, _ shift: UInt64) -> UInt64 {
        var result = value
        var step = shift
        while step < 64 {
            result = value ^ (result >> shift)
            step += shift
        }
        return value ^ (result >> shift)
    }

    /// The multiplicative inverse of an odd number modulo 2^64 (Newton's iteration).
    private static func inverse(_ odd: UInt64) -> UInt64 {
        var x = odd
        for _ in 0..<6 { x = x &* (2 &- odd &* x) }
        return x
    }
}
