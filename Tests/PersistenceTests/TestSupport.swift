import Foundation
import Logging
import Persistence
import StoreFixtures
import XCTest

/// A one-shot signal between a transaction body (blocking is fine on the backend's thread) and
/// the async test (which must not block the cooperative pool).
final class Gate: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func open() { semaphore.signal() }

    /// Blocking wait, for transaction bodies.
    func block(timeout: TimeInterval = 10) throws {
        if semaphore.wait(timeout: .now() + timeout) == .timedOut {
            throw TestTimeout()
        }
    }

    /// Async wait, for test code.
    func wait(timeout: TimeInterval = 10) async throws {
        let semaphore = self.semaphore
        let ok = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: semaphore.wait(timeout: .now() + timeout) == .success)
            }
        }
        if !ok { throw TestTimeout() }
    }
}

struct TestTimeout: Error {}

/// Lets a test smuggle a connection out of its body to check that later use is refused.
final class Escaped: @unchecked Sendable {
    var connection: SQLConnection?
}

func XCTAssertThrowsSQLError<T>(
    _ expression: @autoclosure () async throws -> T,
    _ check: (SQLError) -> Bool,
    _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) async -> SQLError? {
    do {
        _ = try await expression()
        XCTFail("expected an SQLError, got success. \(message)", file: file, line: line)
        return nil
    } catch let error as SQLError {
        XCTAssertTrue(check(error), "unexpected SQLError: \(error). \(message)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected an SQLError, got \(type(of: error)): \(error). \(message)", file: file, line: line)
        return nil
    }
}

extension SQLError {
    var isPermanent: Bool {
        if case .permanent = self { return true }
        return false
    }

    var isConfiguration: Bool {
        if case .configuration = self { return true }
        return false
    }
}

/// A small tmpfs mounted for one test, so that a real disk can be filled. Needs root; without
/// it the test fails and says so (it must not pass without having filled a disk).
final class TmpfsMount {
    let path: URL

    init(sizeKiB: Int, for test: XCTestCase) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tmpfs-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        let result = try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeKiB)k", "tmpfs", path.path])
        guard result.status == 0 else {
            try? FileManager.default.removeItem(at: path)
            throw SQLError.configuration("""
                this test fills a real file system and needs to mount a tmpfs, which takes root \
                (uid \(getuid())): `mount -t tmpfs` exited \(result.status): \(result.output)
                """)
        }
        let path = self.path
        test.addTeardownBlock {
            _ = try? Self.run("/bin/umount", [path.path])
            try? FileManager.default.removeItem(at: path)
        }
    }

    /// Writes a file until the file system refuses more (ENOSPC); returns its path.
    func fill() throws -> URL {
        let ballast = path.appendingPathComponent("ballast")
        let fd = open(ballast.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SQLError.configuration("cannot create \(ballast.path): errno \(errno)") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0xAB, count: 16 * 1024)
        // Bounded: a file system this small is full long before 64 MiB.
        for _ in 0..<4096 {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                guard errno == ENOSPC else { throw SQLError.configuration("writing \(ballast.path) failed: errno \(errno)") }
                return ballast
            }
        }
        throw SQLError.configuration("\(path.path) took 64 MiB without filling up; is it the tmpfs?")
    }

    private static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Polls `condition` until it holds, for states another process reaches (the server ending a
/// session, a backend starting to wait for a lock) that nothing announces; fails after `timeout`.
func eventually(_ what: String, timeout: Duration = .seconds(20),
                _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            throw SQLError.configuration("gave up after \(timeout) waiting for \(what)")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// A value a transaction body hands to the test.
final class Handed<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value?

    var value: Value? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
