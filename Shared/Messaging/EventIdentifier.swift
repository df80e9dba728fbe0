import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension UUID {
    /// A version 7 UUID (RFC 9562): 48-bit Unix milliseconds, then random bits.
    ///
    /// Event ids are time-ordered so that consumers' inbox primary keys grow at one end of the
    /// B-tree: a batch of inserts dirties a few pages instead of one random page per event,
    /// which is most of a SQLite commit's cost. Still a UUID for every reader of the envelope.
    public static func timeOrdered() -> UUID {
        timeOrdered(unixMillis: WallClock.nowMillis())
    }

    static func timeOrdered(unixMillis: Int64) -> UUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        let millis = UInt64(max(0, unixMillis))
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        let (tail, more) = KernelRandom.next2()
        for index in 6..<16 {
            let source = index < 14 ? tail >> (8 * (index - 6)) : more >> (8 * (index - 14))
            bytes[index] = UInt8(truncatingIfNeeded: source)
        }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // RFC 4122 variant
        return UUID(bytes: bytes)!
    }
}

/// Random words from the C library's cryptographically secure generator (`arc4random_buf`:
/// the kernel's randomness through a ChaCha20 stream, no syscall per call).
///
/// Event ids must be unpredictable: a writer who could guess the next ids could pre-insert them
/// into a consumer's inbox and so suppress real events. A pseudo-random generator seeded once
/// (the SplitMix64 used before) gives every later id away from one observed id
/// (`EventIdentifierTests` runs that attack).
enum KernelRandom {
    static func next2() -> (UInt64, UInt64) {
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { arc4random_buf($0.baseAddress!, $0.count) }
        return words
    }
}
