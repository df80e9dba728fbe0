import Deciding
import EventSchema
import Foundation
import Messaging
import Persistence
import ServiceKit
import XCTest

/// The one write path on a real database: a counter row written conditionally on the value it
/// was decided from, a stock row moved conditionally, an event emitted per transition.
final class TransitionWriterTests: XCTestCase {
    struct Take: CustomStringConvertible, Sendable {
        var description: String { "take 1 from stock" }
    }

    struct Bump: StateTransition {
        let from: Int64
        let to: Int64
        let movements: [Take]
        let events: [SagaEvent]
    }

    /// Counts its loads; `interfering` loads are followed by another writer's change of the
    /// counter, as if it committed between this transaction's read and its write.
    final class CounterStep: TransitionStep, @unchecked Sendable {
        var loads = 0
        var interfering: Set<Int> = []
        let limit: Int64
        var emittedEnvelopes: [EventEnvelope] = []

        init(limit: Int64 = 50) { self.limit = limit }

        var subject: String { "counter c" }

        func load(on connection: any SQLConnection) throws -> Int64 {
            loads += 1
            let value = try connection.query("SELECT value FROM counters WHERE id = 'c'", []).first?.int("value") ?? -1
            if interfering.contains(loads) { _ = try connection.execute("UPDATE counters SET value = value + 100 WHERE id = 'c'", []) }
            return value
        }

        func decide(_ value: Int64) -> Decided<Bump> {
            guard value >= 0 else { return .rejected(reason: "no counter") }
            guard value < limit else { return .ignored(reason: "counter at \(value)") }
            return .transition(Bump(from: value, to: value + 1, movements: [Take()], events: [TransitionWriterTests.placed("o-1")]))
        }

        func describe(_ value: Int64) -> String { "counter \(value)" }

        func write(_ transition: Bump, in unit: UnitOfWork) throws -> Bool {
            try unit.connection.execute("UPDATE counters SET value = ? WHERE id = 'c' AND value = ?",
                                   [.integer(transition.to), .integer(transition.from)]) == 1
        }

        func move(_ movements: [Take], on connection: any SQLConnection) throws -> Bool {
            try connection.execute("UPDATE stock SET n = n - ? WHERE id = 's' AND n >= ?",
                                   [.integer(Int64(movements.count)), .integer(Int64(movements.count))]) == 1
        }

        func emitted(_ transition: Bump, as envelopes: [EventEnvelope], on unit: UnitOfWork) throws {
            emittedEnvelopes += envelopes
        }
    }

    static func placed(_ orderId: String) -> SagaEvent {
        var event = Saga_V1_OrderPlaced()
        event.orderID = orderId
        event.customerID = "c-1"
        return .orderPlaced(event)
    }

    var database: SQLiteDatabase!

    override func setUp() async throws {
        database = try SQLiteDatabase.temporary()
        try await database.migrate(MessagingSchema.migrations + [Migration(id: "test-counters", both: [
            "CREATE TABLE counters (id TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            "CREATE TABLE stock (id TEXT PRIMARY KEY, n INTEGER NOT NULL)",
            "INSERT INTO counters VALUES ('c', 0)",
            "INSERT INTO stock VALUES ('s', 10)",
        ])])
    }

    override func tearDown() async throws {
        await database.close()
    }

    func run(_ step: CounterStep, cause: EventCause? = nil, preloaded: Int64? = nil) async throws -> Written<Bump> {
        try await database.unitOfWork { unit in try TransitionWriter.write(step, causedBy: cause, preloaded: preloaded, unit: unit) }
    }

    func state() async throws -> (counter: Int64, stock: Int64, outbox: Int64) {
        try await database.read { connection in
            (try connection.query("SELECT value FROM counters", []).first?.int("value") ?? -1,
             try connection.query("SELECT n FROM stock", []).first?.int("n") ?? -1,
             try connection.query("SELECT count(*) AS n FROM outbox", []).first?.int("n") ?? -1)
        }
    }

    func testAnAppliedTransitionWritesMovesAndEmitsWithItsCause() async throws {
        let step = CounterStep()
        let cause = EventCause(eventId: UUID(), correlationId: UUID(), traceparent: nil)
        guard case .applied(let transition, let envelopes) = try await run(step, cause: cause) else {
            return XCTFail("not applied")
        }
        XCTAssertEqual(transition.to, 1)
        XCTAssertEqual(envelopes.map(\.causationId), [cause.eventId])
        XCTAssertEqual(envelopes.map(\.correlationId), [cause.correlationId!])
        XCTAssertEqual(step.emittedEnvelopes, envelopes, "the step's hook sees the envelopes that went to the outbox")
        let after = try await state()
        XCTAssertEqual([after.counter, after.stock, after.outbox], [1, 9, 1])
    }

    func testALostRaceIsDecidedAgainOnWhatTheOtherWriterDid() async throws {
        let step = CounterStep()
        step.interfering = [1]
        guard case .ignored(let reason) = try await run(step) else { return XCTFail("the second decision saw 100 and ignored it") }
        XCTAssertEqual(reason, "counter at 100")
        XCTAssertEqual(step.loads, 2)
        let after = try await state()
        XCTAssertEqual([after.counter, after.stock, after.outbox], [100, 10, 0], "only the other writer's change")
    }

    func testARaceLostOnEveryDecisionRejectsTheInputWithTheLastState() async throws {
        let step = CounterStep(limit: 1_000)
        step.interfering = [1, 2, 3]
        do {
            _ = try await run(step)
            XCTFail("kept losing, yet written")
        } catch let error as HandlerError {
            XCTAssertEqual(error.kind, .permanent)
            XCTAssertTrue(error.message.contains("kept changing under the handler (3 decisions); last state read: counter 200"), error.message)
        }
        XCTAssertEqual(step.loads, TransitionWriter.attempts)
        let after = try await state()
        XCTAssertEqual([after.counter, after.outbox], [0, 0], "the transaction rolled back")
    }

    func testAMovementThatNoLongerAppliesIsADriftNotARetry() async throws {
        _ = try await database.write { try $0.execute("UPDATE stock SET n = 0", []) }
        let step = CounterStep()
        do {
            _ = try await run(step)
            XCTFail("moved stock that is not there")
        } catch let error as HandlerError {
            XCTAssertEqual(error.kind, .permanent)
            XCTAssertTrue(error.message.contains("counter c: take 1 from stock no longer applies although the decision was made on the locked state counter 0: the state drifted"),
                          error.message)
        }
        XCTAssertEqual(step.loads, 1, "a drift is not retried")
        let after = try await state()
        XCTAssertEqual([after.counter, after.stock, after.outbox], [0, 0, 0])
    }

    func testAPreloadedStateDecidesFirstAndALostRaceReadsTheRow() async throws {
        _ = try await database.write { try $0.execute("UPDATE counters SET value = 5", []) }
        let step = CounterStep()
        guard case .applied(let transition, _) = try await run(step, preloaded: 0) else { return XCTFail("not applied") }
        XCTAssertEqual([transition.from, transition.to], [5, 6], "decided again on the row, after the stale state lost")
        XCTAssertEqual(step.loads, 1, "only the second decision read")
    }

    func testARejectionIsPermanentAndWritesNothing() async throws {
        _ = try await database.write { try $0.execute("DELETE FROM counters", []) }
        do {
            _ = try await run(CounterStep())
            XCTFail("rejected input written")
        } catch let error as HandlerError {
            XCTAssertEqual(error.kind, .permanent)
            XCTAssertEqual(error.message, "no counter")
        }
    }
}
