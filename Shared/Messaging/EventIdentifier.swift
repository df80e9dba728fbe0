import Foundation

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
        let (tail, more) = FastRandom.shared.next2()
        for index in 6..<16 {
            let source = index < 14 ? tail >> (8 * (index - 6)) : more >> (8 * (index - 14))
            bytes[index] = UInt8(truncatingIfNeeded: source)
        }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // RFC 4122 variant
        return UUID(bytes: bytes)!
    }
}

/// SplitMix64 seeded from the system generator: the random part of event ids needs uniqueness,
/// not secrecy, and the system generator costs a syscall per call.
final class FastRandom: @unchecked Sendable {
    static let shared = FastRandom()
    private let lock = NSLock()
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    func next2() -> (UInt64, UInt64) {
        lock.lock()
        defer { lock.unlock() }
        return (step(), step())
    }

    private func step() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
