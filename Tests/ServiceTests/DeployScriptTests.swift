import Foundation
import ServiceKit
import XCTest
@testable import DevClusterTesting

/// The scripts users run, run for real on the debug build: the one-command local stack with
/// load and audit, the chaos script against it, and the scale-out stack on PostgreSQL.
/// Each asserts the scripts' exit status, which is the audit's.
final class DeployScriptTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    var binDir: String { get throws { try DevClusterHarness.binary().deletingLastPathComponent().path } }

    func runDir(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func script(_ name: String, _ arguments: [String], timeout: TimeInterval) throws -> ProcessResult {
        let result = try ScriptProcess.run(Self.root.appendingPathComponent("deploy/\(name)").path, arguments, timeout: timeout)
        if result.status != 0 || result.timedOut {
            print("--- \(name) stdout\n\(result.stdout.suffix(6000))\n--- \(name) stderr\n\(result.stderr.suffix(6000))")
        }
        return result
    }

    /// Logs of every process of a run, printed when a test fails (CI keeps no files).
    func dumpLogs(_ run: URL) {
        let logs = run.appendingPathComponent("logs")
        for file in (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? [] {
            let text = (try? String(contentsOf: logs.appendingPathComponent(file), encoding: .utf8)) ?? ""
            print("--- \(file) (last lines)\n\(text.split(separator: "\n").suffix(25).joined(separator: "\n"))")
        }
    }

    func testLocalStackScriptRunsLoadAndThePassingAudit() throws {
        let run = try runDir("local-stack")
        let result = try script("local-stack.sh", [
            "--bin-dir", try binDir, "--run-dir", run.path, "--base-port", "\(try Self.freePortBlock(instances: 1))",
            "--rate", "20", "--duration", "5",
        ], timeout: 300)
        if result.status != 0 { dumpLogs(run) }
        XCTAssertEqual(result.status, 0, "local-stack.sh failed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("report.json").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("logs/order-0.log").path))
        let pids = try FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("pids").path)
        XCTAssertEqual(pids, [], "the script stops every process it started")
    }

    /// Broker pauses, a leadership move, a whole-cluster SIGSTOP and a SIGKILL of each service in
    /// turn while orders flow: the audit passes and the consumers did absorb duplicates.
    func testChaosOnTheLocalStackKeepsEveryInvariant() throws {
        let run = try runDir("chaos")
        let started = try script("local-stack.sh", [
            "--bin-dir", try binDir, "--run-dir", run.path, "--base-port", "\(try Self.freePortBlock(instances: 1))", "--skip-load",
        ], timeout: 300)
        defer { _ = try? script("local-stack.sh", ["--stop", run.path], timeout: 120) }
        XCTAssertEqual(started.status, 0, "local-stack.sh --skip-load failed")
        guard started.status == 0 else { return }
        let chaos = try script("chaos.sh", [
            "--local", run.path, "--duration", "90", "--rate", "40", "--interval", "4", "--pause", "7",
            "--faults", "broker,kill,cluster,kill,broker,kill,leaders,kill", "--require-duplicates", "--drain-timeout", "180",
        ], timeout: 600)
        if chaos.status != 0 { dumpLogs(run) }
        XCTAssertEqual(chaos.status, 0, "chaos run failed (see the timeline and the audit above)")
        let timeline = (try? String(contentsOf: run.appendingPathComponent("chaos-timeline.txt"), encoding: .utf8)) ?? ""
        print(timeline)
        for expected in ["paused broker", "SIGSTOP the whole dev cluster", "SIGKILL inventory-0", "SIGKILL payment-0",
                         "SIGKILL order-0", "SIGKILL notification-0", "moved leaders"] {
            XCTAssertTrue(timeline.contains(expected), "the timeline lacks '\(expected)'")
        }
    }

    /// Two instances of every service on one PostgreSQL database each; one instance of each is
    /// SIGKILLed and restarted under load: the group moves its partitions, the relay lease moves,
    /// and the audit passes.
    func testScaleOutOnPostgresSurvivesAnInstanceKill() throws {
        let url = ProcessInfo.processInfo.environment["POSTGRES_URL"] ?? "postgres://saga:saga@127.0.0.1:5432/saga_test"
        // postgres://user:pw@host:port, without the database: the script makes one per service.
        let afterScheme = url.range(of: "://")!.upperBound
        let server = url[afterScheme...].firstIndex(of: "/").map { String(url[..<$0]) } ?? url
        let run = try runDir("scale-out")
        let started = try script("local-stack.sh", [
            "--bin-dir", try binDir, "--run-dir", run.path, "--base-port", "\(try Self.freePortBlock(instances: 2))",
            "--instances", "2", "--postgres", server, "--skip-load",
        ], timeout: 300)
        defer { _ = try? script("local-stack.sh", ["--stop", run.path], timeout: 120) }
        XCTAssertEqual(started.status, 0, "local-stack.sh --instances 2 failed")
        guard started.status == 0 else { return }
        let chaos = try script("chaos.sh", [
            "--local", run.path, "--duration", "45", "--rate", "40", "--interval", "5",
            "--faults", "kill", "--kill-instance", "1", "--drain-timeout", "180",
        ], timeout: 400)
        if chaos.status != 0 { dumpLogs(run) }
        XCTAssertEqual(chaos.status, 0, "scale-out run failed")
    }

    /// A base port P with P...P+3 (+10 per further instance) free.
    static func freePortBlock(instances: Int) throws -> Int {
        for _ in 0..<50 {
            let base = Int.random(in: 20_000...40_000)
            let ports = (0..<instances).flatMap { k in (0..<4).map { base + $0 + 10 * k } }
            if ports.allSatisfy({ SagaStack.bind(port: $0) != nil }) { return base }
        }
        throw SagaStack.Failure(description: "no block of free ports found")
    }
}
