import Foundation
import XCTest
@testable import DevClusterTesting

/// The benchmarks are commands, not tests (their numbers are noise for pass/fail on a shared
/// machine); these smoke runs keep the commands working: a few iterations, every line printed,
/// every round trip or row checked by the command itself.
final class BenchCommandTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func tool() throws -> String {
        try DevClusterHarness.binary().deletingLastPathComponent().appendingPathComponent("kafka-tool").path
    }

    func testCodecBenchRoundTripsEveryGoldenEvent() throws {
        let golden = Self.root.appendingPathComponent("Tests/EventSchemaTests/Golden/v1").path
        let result = try ChildProcess.run(try tool(), ["codec-bench", "--golden", golden, "--iterations", "20"], timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        let types = try FileManager.default.contentsOfDirectory(atPath: golden)
            .filter { $0.hasSuffix(".bin") && !$0.contains(".r") && !$0.hasPrefix("descriptor") }.map { String($0.dropLast(4)) }
        XCTAssertFalse(types.isEmpty)
        for type in types {
            XCTAssertTrue(result.stdout.contains("  \(type) "), "no line for \(type) in:\n\(result.stdout)")
        }
    }

    func testStorageBenchWritesEveryRowOnSQLite() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("storage-bench-\(UUID().uuidString).db")
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try ChildProcess.run(try tool(), ["storage-bench", "--database", "sqlite://\(file.path)", "--rows", "8", "--batches", "1"],
                                          timeout: 120)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("[storage-bench sqlite] single-row insert tx:"), result.stdout)
    }
}
