import CRdKafka
import Kafka
import XCTest

/// A watermark reader dropped without `close()` (a tool that throws between creating it and
/// closing it) must take its librdkafka handle with it: the handle's threads keep calling the
/// reader's log and error callbacks while they retry an unreachable broker, and those live in
/// the reader. librdkafka counts the threads of its live handles (`rd_kafka_thread_cnt`): they
/// must be back to where they were once the readers are gone.
final class WatermarkReaderTests: XCTestCase {
    func testAReaderDroppedWithoutCloseStopsItsHandle() async throws {
        let before = rd_kafka_thread_cnt()
        for _ in 0..<3 {
            var reader: KafkaWatermarkReader? = try KafkaWatermarkReader(configuration: KafkaConfiguration(
                bootstrapServers: "127.0.0.1:1", ["reconnect.backoff.ms": "10", "reconnect.backoff.max.ms": "10"]))
            XCTAssertGreaterThan(rd_kafka_thread_cnt(), before, "a live reader runs librdkafka threads")
            do {
                _ = try await reader!.watermarks(topics: ["nowhere"], timeout: .milliseconds(300))
                XCTFail("no broker answers on 127.0.0.1:1")
            } catch {}
            reader = nil
        }
        // Destroying a handle joins its threads; a handle left running keeps them.
        let deadline = ContinuousClock.now + .seconds(10)
        while rd_kafka_thread_cnt() > before, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertLessThanOrEqual(rd_kafka_thread_cnt(), before, "librdkafka threads outlived the dropped readers")
    }
}
