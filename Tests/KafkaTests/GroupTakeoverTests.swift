@testable import DevClusterTesting
import Foundation
import Kafka
import XCTest

/// Two members of one consumer group in two processes (`kafka-tool consume --group`).
final class GroupTakeoverTests: XCTestCase {
    func testTwoProcessesSplitPartitionsAndTheSurvivorTakesOverWithoutLoss() async throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let topic = "takeover-\(UUID().uuidString.prefix(8))"
        XCTAssertEqual(try cluster.call("POST", "/topics/\(topic)?partitions=6").status, 200)
        let configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrap).merging(KafkaConfiguration.devClusterTuning)
        let producer = try KafkaProducer(configuration: configuration)
        func produce(_ range: Range<Int>) async throws {
            let results = try await producer.send(range.map { OutgoingMessage(topic: topic, key: Array("key-\($0)".utf8), value: [1]) })
            XCTAssertEqual(results.filter { (try? $0.get()) == nil }.count, 0)
        }

        let tool = try DevClusterHarness.binary().deletingLastPathComponent().appendingPathComponent("kafka-tool")
        let arguments = ["consume", "--bootstrap", cluster.bootstrap, "--dev-cluster", "--topic", topic, "--group", "takeover"]
        let first = try ChildProcess(executable: tool, arguments: arguments, name: "member-1")
        let second = try ChildProcess(executable: tool, arguments: arguments, name: "member-2")
        defer { first.kill(); second.kill() }

        try await produce(0..<600)
        // Both members must be working on their share before one of them dies.
        try await waitUntil("both members consumed", timeout: 60) {
            !Self.keys(first.stdout).isEmpty && !Self.keys(second.stdout).isEmpty
        }
        XCTAssert(Self.partitions(first.stdout).isDisjoint(with: Self.partitions(second.stdout)),
                  "the group split the partitions between the members")

        first.kill() // no goodbye: the group notices only when the session times out
        try await produce(600..<1200)
        let all = Set((0..<1200).map { "key-\($0)" })
        try await waitUntil("every key consumed by one member or the other", timeout: 60) {
            Self.keys(first.stdout).union(Self.keys(second.stdout)).isSuperset(of: all)
        }
        await producer.close()
        XCTAssertEqual(Self.partitions(second.stdout).count, 6, "the survivor took over every partition")
    }

    private static func lines(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static func keys(_ output: String) -> Set<String> { Set(lines(output).compactMap { $0["key"] as? String }) }
    static func partitions(_ output: String) -> Set<Int> { Set(lines(output).compactMap { $0["partition"] as? Int }) }
}

func waitUntil(_ what: String, timeout: TimeInterval, _ condition: () throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try !condition() {
        if Date() > deadline { throw TimeoutError(what: what, seconds: timeout) }
        try await Task.sleep(for: .milliseconds(100))
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let what: String
    let seconds: TimeInterval
    var description: String { "timed out after \(Int(seconds)) s waiting until \(what)" }
}
