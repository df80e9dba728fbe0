import Kafka
import XCTest

/// A watermark reader dropped without `close()` (a tool that throws between creating it and
/// closing it) must take its librdkafka handle with it: the handle's threads keep calling the
/// reader's log and error callbacks while they retry an unreachable broker, and those live in
/// the reader.
final class WatermarkReaderTests: XCTestCase {
    func testAReaderDroppedWithoutCloseStopsItsHandle() async throws {
        for _ in 0..<3 {
            var reader: KafkaWatermarkReader? = try KafkaWatermarkReader(configuration: KafkaConfiguration(
                bootstrapServers: "127.0.0.1:1", ["reconnect.backoff.ms": "10", "reconnect.backoff.max.ms": "10"]))
            do {
                _ = try await reader!.watermarks(topics: ["nowhere"], timeout: .milliseconds(300))
                XCTFail("no broker answers on 127.0.0.1:1")
            } catch {}
            reader = nil
        }
        // Were a handle still running, its next reconnect (every 10 ms) would call into freed memory.
        try await Task.sleep(for: .milliseconds(500))
    }
}
