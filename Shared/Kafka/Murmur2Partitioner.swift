/// The partition a key lands in with `partitioner=murmur2_random` (the Java client's default):
/// `(murmur2(key) & 0x7fffffff) % partitionCount`. Used to tell which partition holds an order
/// without asking the cluster, and by tests to prove producers agree with other tools.
public enum Murmur2Partitioner {
    public static func partition(forKey key: some Collection<UInt8>, partitionCount: Int32) -> Int32 {
        precondition(partitionCount > 0, "partition count must be positive")
        return Int32(bitPattern: murmur2(key) & 0x7fff_ffff) % partitionCount
    }

    public static func partition(forKey key: String, partitionCount: Int32) -> Int32 {
        partition(forKey: Array(key.utf8), partitionCount: partitionCount)
    }

    /// MurmurHash2, 32-bit, with the Kafka seed; little-endian 4-byte blocks.
    public static func murmur2(_ data: some Collection<UInt8>) -> UInt32 {
        let bytes = Array(data)
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: bytes.count)
        let blocks = bytes.count / 4
        for i in 0..<blocks {
            let j = i * 4
            var k = UInt32(bytes[j]) | UInt32(bytes[j + 1]) << 8 | UInt32(bytes[j + 2]) << 16 | UInt32(bytes[j + 3]) << 24
            k &*= m
            k ^= k >> r
            k &*= m
            h &*= m
            h ^= k
        }
        let tail = blocks * 4
        switch bytes.count % 4 {
        case 3:
            h ^= UInt32(bytes[tail + 2]) << 16
            fallthrough
        case 2:
            h ^= UInt32(bytes[tail + 1]) << 8
            fallthrough
        case 1:
            h ^= UInt32(bytes[tail])
            h &*= m
        default:
            break
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return h
    }
}
