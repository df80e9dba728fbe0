import Kafka
import XCTest

/// Closing a producer must end every call under way, even one waiting for room in a queue that
/// cannot drain: no broker is reachable here, and records never expire (`message.timeout.ms=0`,
/// as the outbox relay runs).
final class ProducerCloseTests: XCTestCase {
    private func unreachableProducer(queueCapacity: Int) throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1", [
            "message.timeout.ms": "0",
            "queue.buffering.max.messages": "\(queueCapacity)",
            "log_level": "0",
        ]))
    }

    func testCloseEndsACallWaitingForRoomAndFailsEveryRecordItHeld() async throws {
        let producer = try unreachableProducer(queueCapacity: 10)
        let records = (0..<50).map { OutgoingMessage(topic: "nowhere", key: Array("k\($0)".utf8), value: [1]) }
        let call = Task { await producer.enqueue(records).results() }
        // The call fills the local queue and then waits for room that never comes.
        let deadline = ContinuousClock.now + .seconds(30)
        while producer.outstandingCount < 10 {
            guard ContinuousClock.now < deadline else { return XCTFail("the queue never filled: \(producer.outstandingCount) records held") }
            try await Task.sleep(for: .milliseconds(5))
        }

        await producer.close(flushTimeout: .milliseconds(100))
        let results = await call.value

        XCTAssertEqual(results.count, 50)
        let failures = results.compactMap { result -> KafkaError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        XCTAssertEqual(failures.count, 50, "nothing can be delivered without a broker")
        // The ten librdkafka held are purged at close; the forty it never took fail as closed.
        XCTAssertEqual(failures.filter { "\($0)".contains("producer is closed") }.count, 40)
    }

    func testEnqueueAfterCloseFailsEveryRecordAtOnce() async throws {
        let producer = try unreachableProducer(queueCapacity: 10)
        await producer.close(flushTimeout: .zero)
        let results = await producer.enqueue([OutgoingMessage(topic: "nowhere", key: [1], value: [2]),
                                              OutgoingMessage(topic: "nowhere", key: [3], value: [4])]).results()
        XCTAssertEqual(results.count, 2)
        for result in results {
            guard case .failure(let error) = result else { return XCTFail("a closed producer accepted a record") }
            XCTAssertTrue("\(error)".contains("producer is closed"), "\(error)")
        }
    }
}
