import EventSchema
import Foundation
import Kafka
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

final class UnitOfWorkTests: XCTestCase {
    /// An outbox row read back: the envelope from its headers column, the event from its payload.
    struct StoredEvent {
        let id: Int64
        let topic: String
        let decoded: DecodedEvent
    }

    static func outbox(_ database: any SQLDatabase) async throws -> [StoredEvent] {
        let rows = try await database.read { try $0.query("SELECT id, topic, key, headers, payload FROM outbox ORDER BY id", []) }
        return try rows.map { row in
            let headers = try HeaderCodec.decode(row.bytes("headers")!)
            let decoded = try DecodedEvent(headers: headers.map { (name: $0.key, value: $0.value) },
                                           payload: row.bytes("payload"), topic: row.string("topic"))
            XCTAssertEqual(row.bytes("key"), decoded.envelope.key)
            return StoredEvent(id: row.int("id")!, topic: row.string("topic")!, decoded: decoded)
        }
    }

    func testSequenceIncreasesPerTopicAndOrder() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let first = try await database.unitOfWork { unit in
                [try unit.emit(Events.orderPlaced("A")), try unit.emit(Events.orderPlaced("B")),
                 try unit.emit(Events.stockReserved("A")), try unit.emit(Events.orderPlaced("A"))]
            }
            XCTAssertEqual(first.map(\.sequence), [1, 1, 1, 2], "[\(store.backend)]")
            let cause = first[0]
            let second = try await database.unitOfWork { unit in
                try unit.emit(Events.orderPlaced("A"), causedBy: cause.cause)
            }
            XCTAssertEqual(second.sequence, 3)
            XCTAssertEqual(second.causationId, cause.eventId)
            XCTAssertEqual(second.correlationId, cause.correlationId)

            let stored = try await Self.outbox(database)
            XCTAssertEqual(stored.count, 5)
            XCTAssertEqual(stored.map(\.decoded.envelope), first + [second], "[\(store.backend)] outbox keeps emit order and the envelopes")
            XCTAssertEqual(stored.map(\.topic), ["orders.v1", "orders.v1", "inventory.v1", "orders.v1", "orders.v1"])
        }
    }

    /// An order the transaction makes takes its sequences without a statement, and its sequence
    /// row is inserted at the end; if the row is there after all, the transaction fails rather
    /// than hand out a sequence twice.
    func testANewOrdersSequencesCostNoStatementAndAnExistingRowFailsTheTransaction() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let (envelopes, statements) = try await database.write { connection in
                let log = StatementLog(connection)
                let envelopes = try UnitOfWork.run(on: log) { unit in
                    unit.startSequences(of: "new-1", on: ["orders.v1"])
                    return [try unit.emit(Events.orderPlaced("new-1")), try unit.emit(Events.orderPlaced("new-1"))]
                }
                return (envelopes, log.statements)
            }
            XCTAssertEqual(envelopes.map(\.sequence), [1, 2], "[\(store.backend)]")
            XCTAssertEqual(statements.filter { $0.contains("outbox_sequences") }.count, 1,
                           "[\(store.backend)] one insert at the end, no upsert per emit: \(statements)")
            let next = try await database.unitOfWork { try $0.emit(Events.orderPlaced("new-1")) }
            XCTAssertEqual(next.sequence, 3, "[\(store.backend)] the row went on from the sequences taken in memory")

            do {
                _ = try await database.unitOfWork { unit in
                    unit.startSequences(of: "new-1", on: ["orders.v1"])
                    return try unit.emit(Events.orderPlaced("new-1"))
                }
                XCTFail("[\(store.backend)] sequence 1 of new-1 was handed out a second time")
            } catch {}
            let stored = try await Self.outbox(database)
            XCTAssertEqual(stored.map(\.decoded.envelope.sequence), [1, 2, 3], "[\(store.backend)] the failed transaction wrote nothing")
        }
    }

    func testRollbackLeavesNoRowAndNoSequence() async throws {
        struct Boom: Error {}
        try await forEachBackend { store in
            let database = try await store.open()
            do {
                _ = try await database.unitOfWork { unit -> Int in
                    try unit.emit(Events.orderPlaced("A"))
                    throw Boom()
                }
                XCTFail("expected the body's error")
            } catch is Boom {}
            let stored = try await Self.outbox(database)
            XCTAssertTrue(stored.isEmpty)
            let next = try await database.unitOfWork { try $0.emit(Events.orderPlaced("A")) }
            XCTAssertEqual(next.sequence, 1, "[\(store.backend)] the rolled-back sequence is given again")
        }
    }

    /// An `afterCommit` action sees what its transaction wrote (it runs after the commit, when a
    /// new transaction can read the row) and never runs for a transaction that rolled back.
    func testAfterCommitActionsRunOnlyOnceTheTransactionCommitted() async throws {
        struct Boom: Error {}
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var actions: [String] = []
            func add(_ name: String) { lock.withLock { actions.append(name) } }
        }
        try await forEachBackend { store in
            let database = try await store.open()
            let seen = Seen()
            do {
                _ = try await database.unitOfWork { unit -> Int in
                    try unit.emit(Events.orderPlaced("rolled-back"))
                    unit.afterCommit { seen.add("rolled-back") }
                    throw Boom()
                }
                XCTFail("expected the body's error")
            } catch is Boom {}
            XCTAssertEqual(seen.actions, [], "[\(store.backend)] an action of a rolled-back unit ran")

            let (committedBeforeActions, outboxRowsInBody) = try await database.unitOfWork { unit -> (Bool, Int) in
                try unit.emit(Events.orderPlaced("committed"))
                unit.afterCommit { seen.add("first") }
                unit.afterCommit { seen.add("second") }
                return (seen.actions.isEmpty, 1)
            }
            XCTAssertTrue(committedBeforeActions, "an action ran inside the transaction")
            XCTAssertEqual(outboxRowsInBody, 1)
            XCTAssertEqual(seen.actions, ["first", "second"], "[\(store.backend)] in order, once each")
            let stored = try await Self.outbox(database)
            XCTAssertEqual(stored.map(\.decoded.envelope.orderId), ["committed"])
        }
    }

    /// Rows queued for the end of the transaction are written after the body, those of one
    /// statement together (so the body does not see them), in queue order (the first of two rows
    /// on one key wins, within a statement and across its chunks), and not at all if the
    /// transaction rolls back.
    func testRowsQueuedForTheEndAreWrittenWithTheirTransaction() async throws {
        struct Boom: Error {}
        let statement = MultiRowStatement("INSERT INTO queued_at_end (k, n)", columns: 2,
                                          suffix: "ON CONFLICT (k) DO NOTHING", maxRows: 4)
        try await forEachBackend { store in
            let database = try await store.open()
            try await database.write { _ = try $0.execute("CREATE TABLE queued_at_end (k TEXT PRIMARY KEY, n BIGINT NOT NULL)", []) }
            let count = { @Sendable (connection: any SQLConnection) throws -> Int64 in
                try connection.query("SELECT COUNT(*) AS n FROM queued_at_end", [])[0].int("n") ?? -1
            }
            do {
                _ = try await database.unitOfWork { unit -> Int in
                    unit.insertAtEnd([.text("rolled-back"), .integer(0)], with: statement)
                    throw Boom()
                }
                XCTFail("expected the body's error")
            } catch is Boom {}
            let afterRollback = try await database.read(count)
            XCTAssertEqual(afterRollback, 0, "[\(store.backend)] a rolled-back unit wrote its queued row")

            let seenInBody = try await database.unitOfWork { unit -> Int64 in
                for n in 0..<10 { unit.insertAtEnd([.text("k\(n % 3)"), .integer(Int64(n))], with: statement) }
                unit.insertAtEnd([.text("k9"), .integer(9)], with: statement)
                try unit.emit(Events.orderPlaced("A"))
                return try count(unit.connection)
            }
            XCTAssertEqual(seenInBody, 0, "[\(store.backend)] queued rows were written before the end of the body")
            let rows = try await database.read { try $0.query("SELECT k, n FROM queued_at_end ORDER BY k", []) }
            XCTAssertEqual(rows.map { "\($0.string("k") ?? "?")=\($0.int("n") ?? -1)" }, ["k0=0", "k1=1", "k2=2", "k9=9"],
                           "[\(store.backend)]")
            let outboxRows = try await Self.outbox(database).count
            XCTAssertEqual(outboxRows, 1)
        }
    }

    /// Many transactions emit for one order at once: every sequence is given once, and outbox
    /// id order is sequence order (what the relay relies on for per-key order).
    func testConcurrentWritersSerialiseOnTheSequenceRow() async throws {
        try await forEachBackend { store in
            let database = try await store.open(poolSize: 4)
            let writers = 8, perWriter = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for index in 0..<perWriter {
                            _ = try await database.unitOfWork { unit in
                                try unit.emit(Events.orderPlaced("hot"))
                                // Other work between the sequence and the commit widens the race.
                                try unit.connection.execute("SELECT 1", [])
                                if (writer + index) % 3 == 0 { try unit.emit(Events.orderPlaced("cold-\(writer)")) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let stored = try await Self.outbox(database)
            let hot = stored.filter { $0.decoded.envelope.orderId == "hot" }
            XCTAssertEqual(hot.map(\.decoded.envelope.sequence), Array(1...Int64(writers * perWriter)),
                           "[\(store.backend)] in id order, sequences of one order are 1...n with no gap or repeat")
            for writer in 0..<writers {
                let cold = stored.filter { $0.decoded.envelope.orderId == "cold-\(writer)" }
                XCTAssertEqual(cold.map(\.decoded.envelope.sequence), Array(1...Int64(cold.count)))
            }
        }
    }

    func testDeadLetterKeepsTheOriginalMessage() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let original = Events.garbage(partition: 7, offset: 42)
            let envelope = try await database.unitOfWork { unit in
                try unit.deadLetter(original, error: "cannot decode", kind: .undecodable, consumerGroup: "inventory")
            }
            XCTAssertEqual(envelope.eventType, .deadLetter)
            XCTAssertEqual(envelope.orderId, "order-x", "taken from the UTF-8 key when there is no order-id header")
            let stored = try await Self.outbox(database)
            XCTAssertEqual(stored.count, 1)
            XCTAssertEqual(stored[0].topic, "deadletter.v1")
            guard case .deadLetter(let letter) = stored[0].decoded.event else { return XCTFail("not a dead letter") }
            XCTAssertEqual(letter.originTopic, "orders.v1")
            XCTAssertEqual(letter.originPartition, 7)
            XCTAssertEqual(letter.originOffset, 42)
            XCTAssertEqual([UInt8](letter.payload), [0xFF, 0x01, 0x02])
            XCTAssertEqual(letter.error, "cannot decode")
            XCTAssertEqual(letter.errorKind, .undecodable)
            XCTAssertEqual(letter.consumerGroup, "inventory")
        }
    }

    func testHeaderCodecRoundTrip() throws {
        let headers: [(name: String, value: [UInt8]?)] = [("a", [1, 2]), ("empty", []), ("null", nil), ("a", [3])]
        let decoded = try HeaderCodec.decode(HeaderCodec.encode(headers))
        XCTAssertEqual(decoded, headers.map { KafkaHeader(key: $0.name, value: $0.value) })
        XCTAssertThrowsError(try HeaderCodec.decode([0, 5, 65]))
    }

    func testMultiRowChunks() {
        let statement = MultiRowStatement("INSERT INTO t (a)", columns: 1, maxRows: 256)
        XCTAssertEqual(statement.chunks(500, dialect: .sqlite), [256, 128, 64, 32, 16, 4])
        XCTAssertEqual(statement.chunks(600, dialect: .postgres), [256, 256, 88])
        XCTAssertEqual(statement.sql(rows: 2), "INSERT INTO t (a) VALUES (?), (?)")
    }
}
