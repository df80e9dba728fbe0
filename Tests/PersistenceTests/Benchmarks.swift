import Foundation
import Persistence
import XCTest

/// Prints throughput; asserts only correctness. Numbers from a debug build are pessimistic for
/// the Swift side; PERSISTENCE_BENCH_SCALE=10 runs longer.
enum Benchmarks {
    static let table = Migration(
        id: "bench_events",
        sqlite: ["CREATE TABLE bench_events (id INTEGER PRIMARY KEY AUTOINCREMENT, aggregate TEXT NOT NULL, seq BIGINT NOT NULL, payload BLOB NOT NULL)"],
        postgres: ["CREATE TABLE bench_events (id BIGSERIAL PRIMARY KEY, aggregate TEXT NOT NULL, seq BIGINT NOT NULL, payload BYTEA NOT NULL)"])

    static func throughput(_ store: TestStore) async throws {
        let scale = Int(ProcessInfo.processInfo.environment["PERSISTENCE_BENCH_SCALE"] ?? "1") ?? 1
        let database = try await store.open()
        try await database.migrate([table])
        let payload = SQLValue.blob([UInt8](repeating: 0xAB, count: 200))
        let insert = "INSERT INTO bench_events (aggregate, seq, payload) VALUES (?, ?, ?)"

        // Warm-up: connections, statement caches.
        for i in 0..<50 {
            try await database.write { try $0.execute(insert, "warm", .integer(Int64(i)), payload) }
        }

        let singles = 400 * scale
        var start = ContinuousClock.now
        for i in 0..<singles {
            try await database.write { try $0.execute(insert, "single", .integer(Int64(i)), payload) }
        }
        let singleRate = Double(singles) / seconds(ContinuousClock.now - start)

        let concurrency = 4
        start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<concurrency {
                group.addTask {
                    for i in 0..<(singles / concurrency) {
                        try await database.write { try $0.execute(insert, .text("c\(t)"), .integer(Int64(i)), payload) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let concurrentRate = Double(singles) / seconds(ContinuousClock.now - start)

        let batches = 4 * scale, batchSize = 500
        start = ContinuousClock.now
        for b in 0..<batches {
            try await database.write { c in
                for i in 0..<batchSize {
                    try c.execute(insert, "batch", .integer(Int64(b * batchSize + i)), payload)
                }
            }
        }
        let batchRate = Double(batches * batchSize) / seconds(ContinuousClock.now - start)

        let total = try await database.read { try $0.query("SELECT count(*) AS c FROM bench_events")[0].int("c") }
        XCTAssertEqual(total, Int64(50 + singles + (singles / concurrency) * concurrency + batches * batchSize))

        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        print(String(format: "[bench %@ %@] single-row insert tx: %.0f tx/s sequential, %.0f tx/s with %d tasks; 500-row batch tx: %.0f rows/s",
                     store.backend, build, singleRate, concurrentRate, concurrency, batchRate))
    }

    static func seconds(_ duration: Duration) -> Double {
        let (s, atto) = duration.components
        return Double(s) + Double(atto) / 1e18
    }
}
