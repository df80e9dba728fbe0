import Credentials
import Foundation
import SagaAPI
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ServiceKit
import Locking
import XCTest
@testable import DevClusterTesting

#if canImport(Glibc)
import Glibc
#endif

/// What a stranger meets at the edge of the real executables: thousands of connections that
/// never finish their request head do not keep a real caller out and are closed within the
/// idle timeout; streams beyond the cap are refused; a customer's stream carries only its own
/// notifications; a burst over the rate limit is answered 429 and loses nothing.
final class EdgeLimitsEndToEndTests: XCTestCase {
    static let seed = SeedCatalog(
        currency: "EUR",
        skus: [.init(sku: "SKU-L", unitPrice: 100, stock: 1_000_000)],
        customers: [.init(customerId: "C-A", balance: 1_000_000_000), .init(customerId: "C-B", balance: 1_000_000_000)])

    func testSlowConnectionsDoNotKeepACallerOutAndAreClosed() throws {
        let stack = try SagaStack(seed: Self.seed, extraArguments: [.order: ["--http-idle-timeout-ms", "3000"]])
        defer { stack.stop() }
        let client = SagaClient(stack: stack)
        let port = UInt16(stack.ports[.order]!)

        // 3,000 connections that send half a request head and stop.
        var slow: [Int32] = []
        defer { slow.forEach { close($0) } }
        for _ in 0..<3_000 {
            let fd = try Self.connect(port: port)
            _ = "POST /orders HTTP/1.1\r\nHost: order\r\nContent-Type: application/json\r\n".withCString { write(fd, $0, strlen($0)) }
            slow.append(fd)
        }

        // Once the server took them all off its listen queue, a real caller still gets through,
        // each time in well under a second.
        _ = try client.poll("the server to accept the slow connections", timeout: 30) { () -> Bool? in
            Self.listenQueueLength(port: port) == 0 ? true : nil
        }
        var latencies: [Double] = []
        for _ in 0..<5 {
            let started = Date()
            _ = try client.place(customer: "C-A", [.init(sku: "SKU-L", quantity: 1)])
            latencies.append(Date().timeIntervalSince(started))
        }
        let median = latencies.sorted()[2]
        print("POST /orders with 3000 slow connections open: median \(Int(median * 1000)) ms, all \(latencies.map { Int($0 * 1000) }) ms")
        XCTAssertLessThan(latencies.max()!, 1.0, "POST /orders answered in \(latencies) s with 3000 slow connections open")

        // The server closes every one of them (the idle timeout: 3 s here), none is left hanging.
        let deadline = Date().addingTimeInterval(20)
        var open = slow.count
        while Date() < deadline {
            open = slow.filter { !Self.isClosedByPeer($0) }.count
            if open == 0 { break }
            usleep(200_000)
        }
        XCTAssertEqual(open, 0, "slow connections the server did not close within 20 s")
    }

    func testStreamsBeyondTheCapAreRefusedAndACustomerSeesOnlyItsOwn() throws {
        let stack = try SagaStack(seed: Self.seed, extraArguments: [.notification: ["--stream-max-subscribers", "3"]])
        defer { stack.stop() }
        let client = SagaClient(stack: stack)
        let url = stack.url(.notification, "/notifications/stream")

        let streamA = try EventStream(url: url, token: stack.customerToken("C-A"))
        defer { streamA.close() }
        let others = try (0..<2).map { _ in try EventStream(url: url, token: stack.operatorToken) }
        defer { others.forEach { $0.close() } }
        let refused = try HTTP.get(url, token: stack.customerToken("C-B"))
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertNotNil(refused.header("Retry-After"))

        let theirs = try client.place(customer: "C-B", [.init(sku: "SKU-L", quantity: 1)])
        let mine = try client.place(customer: "C-A", [.init(sku: "SKU-L", quantity: 1)])
        _ = try client.waitForNotifications(theirs)
        _ = try client.waitForNotifications(mine)
        let received = try client.poll("A's notification on A's stream", timeout: 30) { () -> String? in
            let text = streamA.received
            return text.contains(mine) ? text : nil
        }
        XCTAssertFalse(received.contains(theirs), "A's stream carried B's notification")
        _ = try client.poll("the operator's stream sees B's notification", timeout: 30) { () -> Bool? in
            others[0].received.contains(theirs) ? true : nil
        }
    }

    func testABurstOverTheRateLimitIs429AndLosesNothing() throws {
        let stack = try SagaStack(seed: Self.seed, extraArguments: [.order: ["--order-rate-limit", "5"]])
        defer { stack.stop() }
        let client = SagaClient(stack: stack)
        let token = stack.customerToken("C-A")
        let accepted = Protected<[String]>([])
        let limited = Protected<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 60) { _ in
            guard let response = try? HTTP.post(stack.url(.order, "/orders"), json: client.body(customer: "C-A", lines: [.init(sku: "SKU-L", quantity: 1)]),
                                                token: token) else { return }
            if response.status == 202, let id = try? response.json()["orderId"] as? String {
                accepted.update { $0.append(id) }
            } else if response.status == 429, response.header("Retry-After") != nil {
                limited.update { $0 += 1 }
            }
        }
        XCTAssertGreaterThan(limited.value, 0, "some requests over the limit")
        XCTAssertEqual(accepted.value.count + limited.value, 60, "every request answered 202 or 429")
        for id in accepted.value {
            XCTAssertEqual(try client.waitForEnd(id)["status"] as? String, "CONFIRMED")
        }
        let listed = try HTTP.get(stack.url(.order, "/orders?limit=500"), token: token).json()["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(Set(listed.compactMap { $0["orderId"] as? String }), Set(accepted.value), "an order per 202, none per 429")
    }

    // MARK: sockets

    static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SagaStack.Failure(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw SagaStack.Failure(description: "connect: errno \(errno)")
        }
        return fd
    }

    /// Connections waiting in the kernel's accept queue of the listener on `port` (its Recv-Q,
    /// from /proc/net/tcp); nil when no listener was found.
    static func listenQueueLength(port: UInt16) -> Int? {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return nil }
        let localPort = String(format: ":%04X", port)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[1].hasSuffix(localPort), fields[3] == "0A" else { continue }
            let queues = fields[4].split(separator: ":")
            return queues.count == 2 ? Int(queues[1], radix: 16) : nil
        }
        return nil
    }

    /// Whether the server closed the connection: a non-blocking read sees end of file or a reset.
    static func isClosedByPeer(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        if count == 0 { return true }
        if count < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        return false
    }
}

/// A server-sent-events stream read in the background (URLSession), its text kept.
final class EventStream: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    private var session: URLSession!
    private var task: URLSessionDataTask!
    private let opened = DispatchSemaphore(value: 0)
    private var status = 0

    init(url: URL, token: String) throws {
        super.init()
        session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: nil)
        var request = URLRequest(url: url, timeoutInterval: 300)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        task = session.dataTask(with: request)
        task.resume()
        guard opened.wait(timeout: .now() + 15) == .success, status == 200 else {
            close()
            throw SagaStack.Failure(description: "the stream did not open (status \(status))")
        }
    }

    var received: String { lock.withLock { text } }

    func close() {
        task?.cancel()
        session?.invalidateAndCancel()
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        status = (response as? HTTPURLResponse)?.statusCode ?? 0
        completionHandler(.allow)
        opened.signal()
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.withLock { text += String(decoding: data, as: UTF8.self) }
    }
}
