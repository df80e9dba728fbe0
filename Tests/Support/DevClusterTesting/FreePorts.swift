import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loopback ports for the processes a test starts: one the kernel picks, or a block below the
/// kernel's ephemeral range. A block is kept for minutes (a fault matrix, cell after cell), and
/// once an outgoing connection was given one of its ports as its local port, every later start
/// failed to bind ("Address already in use"): hence below the ephemeral range.
public enum FreePorts {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Binds 127.0.0.1:`port` (0: any) and releases it; the port bound, or nil if it is taken.
    public static func bind(port: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    /// A port nobody listens on now, picked by the kernel.
    public static func one() throws -> Int {
        guard let port = bind(port: 0) else { throw Failure(description: "no free port: errno \(errno)") }
        return port
    }

    /// A base port P with P...P+3 free (+10 per further instance), below the ephemeral range.
    public static func block(instances: Int = 1) throws -> Int {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).compactMap { Int($0) } ?? []
        let ephemeralStart = range.first ?? 32_768
        let highest = max(10_001, min(40_000, ephemeralStart) - 10 * instances)
        for _ in 0..<50 {
            let base = Int.random(in: 10_000...highest)
            let ports = (0..<instances).flatMap { k in (0..<4).map { base + $0 + 10 * k } }
            if ports.allSatisfy({ bind(port: $0) != nil }) { return base }
        }
        throw Failure(description: "no block of free ports found")
    }
}
