import Kafka
import Logging

/// Where the saga topics start and end now: the follower starts at the ends, the audit reads
/// from the starts up to the ends.
enum TopicExtent {
    static func watermarks(of topics: [String], configuration: KafkaConfiguration,
                           logger: Logger) async throws -> [TopicPartition: Watermarks] {
        let reader = try KafkaWatermarkReader(configuration: configuration, logger: logger)
        do {
            let watermarks = try await reader.watermarks(topics: topics)
            await reader.close()
            return watermarks
        } catch {
            await reader.close()
            throw LoadGenError("cannot find the extent of \(topics.joined(separator: ", ")) (\(error)); is Kafka reachable and are the topics created?")
        }
    }
}
