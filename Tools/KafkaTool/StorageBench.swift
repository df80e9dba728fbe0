import ArgumentParser
import Foundation
import Persistence

/// Write throughput of a storage backend: single-row transactions one after another and from
/// four tasks, and 500-row batch transactions. A measurement to print; the command checks only
/// that every row was written.
struct StorageBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage-bench",
        abstract: "Insert throughput of a database (sqlite:///path or postgres://…): single-row and batch transactions.")

    @Option(help: "The database to write to (a table bench_events is created there).") var database: String
    @Option(help: "Single-row transactions per phase.") var rows = 400
    @Option(help: "500-row batch transactions.") var batches = 4

    func validate() throws {
        guard rows >= 4, batches >= 1 else { throw ValidationError("--rows must be at least 4 and --batches at least 1") }
    }

    static let table = Migration(
        id: "bench_events",
        sqlite: ["CREATE TABLE bench_events (id INTEGER PRIMARY KEY AUTOINCREMENT, aggregate TEXT NOT NULL, seq BIGINT NOT NULL, payload BLOB NOT NULL)"],
        postgres: ["CREATE TABLE bench_events (id BIGSERIAL PRIMARY KEY, aggregate TEXT NOT NULL, seq BIGINT NOT NULL, payload BYTEA NOT NULL)"])

    func run() async throws {
        let database = try await openDatabase(url: self.database)
        do {
            try await measure(database)
            await database.close()
        } catch {
            await database.close()
            throw error
        }
    }

    private func measure(_ database: any SQLDatabase) async throws {
        try await database.migrate([Self.table])
        let before = try await database.read { try $0.query("SELECT count(*) AS c FROM bench_events")[0].int("c") ?? 0 }
        let payload = SQLValue.blob([UInt8](repeating: 0xAB, count: 200))
        let insert = "INSERT INTO bench_events (aggregate, seq, payload) VALUES (?, ?, ?)"
        let rows = self.rows

        // Warm-up: connections, statement caches.
        for i in 0..<50 {
            try await database.write { try $0.execute(insert, "warm", .integer(Int64(i)), payload) }
        }
        var start = ContinuousClock.now
        for i in 0..<rows {
            try await database.write { try $0.execute(insert, "single", .integer(Int64(i)), payload) }
        }
        let singleRate = Double(rows) / seconds(ContinuousClock.now - start)

        let concurrency = 4
        start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<concurrency {
                group.addTask {
                    for i in 0..<(rows / concurrency) {
                        try await database.write { try $0.execute(insert, .text("c\(t)"), .integer(Int64(i)), payload) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let concurrentRate = Double(rows) / seconds(ContinuousClock.now - start)

        let batchSize = 500
        start = ContinuousClock.now
        for b in 0..<batches {
            try await database.write { c in
                for i in 0..<batchSize { try c.execute(insert, "batch", .integer(Int64(b * batchSize + i)), payload) }
            }
        }
        let batchRate = Double(batches * batchSize) / seconds(ContinuousClock.now - start)

        let total = try await database.read { try $0.query("SELECT count(*) AS c FROM bench_events")[0].int("c") ?? 0 }
        let expected = before + Int64(50 + rows + (rows / concurrency) * concurrency + batches * batchSize)
        guard total == expected else { throw ValidationError("bench_events holds \(total) rows, expected \(expected)") }
        print(String(format: "[storage-bench %@] single-row insert tx: %.0f tx/s sequential, %.0f tx/s with %d tasks; 500-row batch tx: %.0f rows/s",
                     self.database.lowercased().hasPrefix("postgres") ? "postgres" : "sqlite", singleRate, concurrentRate, concurrency, batchRate))
    }

    private func seconds(_ duration: Duration) -> Double {
        let (s, atto) = duration.components
        return Double(s) + Double(atto) / 1e18
    }
}
