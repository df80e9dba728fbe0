/// What a consumer's owner does when the group hands it partitions or takes them away.
///
/// Both hooks run on the consumer's poll thread while librdkafka waits for the answer, i.e.
/// inside `poll`, never while a batch returned by an earlier `poll` is still in your hands
/// (as long as you ask for the next batch only after finishing the previous one). They must
/// not call back into the same consumer.
public struct RebalanceHooks: Sendable {
    /// Returns the offset to start reading from (the next offset, i.e. last processed + 1) for
    /// any of the newly assigned partitions, or `KafkaConsumer.paused` to take the partition but
    /// fetch nothing from it until `seek` and `resume`; partitions left out start at the group's
    /// committed offset, or per `auto.offset.reset`. A throw is retried with backoff: assigning
    /// without knowing where the application stands would risk skipping or repeating work.
    public var onAssign: @Sendable (_ partitions: [TopicPartition]) async throws -> [TopicPartition: Int64]
    /// Called before partitions go away. `lost` means the group already gave them to another
    /// member (session timed out): do not commit for them.
    public var onRevoke: @Sendable (_ partitions: [TopicPartition], _ lost: Bool) async -> Void
    /// An error librdkafka reports for one partition while consuming it (e.g. `_AUTO_OFFSET_RESET`
    /// with `auto.offset.reset=error`: the fetch offset is not in the log). Runs on the poll
    /// thread, inside `poll`; the partition's records stop until the owner seeks it.
    public var onPartitionError: @Sendable (_ partition: TopicPartition, _ error: KafkaError) -> Void

    public init(onAssign: @escaping @Sendable ([TopicPartition]) async throws -> [TopicPartition: Int64] = { _ in [:] },
                onRevoke: @escaping @Sendable ([TopicPartition], Bool) async -> Void = { _, _ in },
                onPartitionError: @escaping @Sendable (TopicPartition, KafkaError) -> Void = { _, _ in }) {
        self.onAssign = onAssign
        self.onRevoke = onRevoke
        self.onPartitionError = onPartitionError
    }
}
