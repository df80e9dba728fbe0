import Foundation
import Messaging
import Persistence

/// A service table for tests: how many times each event was applied.
enum AppliedTable {
    static let migration = Migration(id: "test-applied", both: [
        "CREATE TABLE applied (event_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, times INTEGER NOT NULL)",
    ])

    static var migrations: [Migration] { MessagingSchema.migrations + [migration] }

    static func record(_ event: InboundEvent, on connection: any SQLConnection) throws {
        try connection.execute("""
            INSERT INTO applied (event_id, order_id, times) VALUES (?, ?, 1)
            ON CONFLICT (event_id) DO UPDATE SET times = applied.times + 1
            """, [.text(event.envelope.eventId.uuidString), .text(event.envelope.orderId)])
    }

    /// times applied, by event id.
    static func counts(_ database: any SQLDatabase) async throws -> [String: Int] {
        let rows = try await database.read { try $0.query("SELECT event_id, times FROM applied", []) }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.string("event_id")!, Int($0.int("times")!)) })
    }
}
