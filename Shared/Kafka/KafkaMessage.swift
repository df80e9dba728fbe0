/// A Kafka record header. Values are raw bytes; the event envelope stores UTF-8 text there.
public struct KafkaHeader: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    public init(key: String, text: String) {
        self.init(key: key, value: Array(text.utf8))
    }
}

public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// A record to produce. `partition == nil` lets the configured partitioner pick from the key.
public struct OutgoingMessage: Sendable {
    public var topic: String
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    public var partition: Int32?

    public init(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
    }
}

/// Where the broker stored a produced record.
public struct DeliveryReport: Sendable, Hashable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
}

/// A record read by the consumer, copied out of librdkafka's buffers.
///
/// The keys and values of one poll share a single byte buffer (one allocation per chunk of
/// records, not two per record); `key` and `value` become arrays when read, on the reader's
/// thread. A record kept alive keeps its chunk's buffer alive.
public struct ConsumedMessage: Sendable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let headers: [KafkaHeader]
    /// Broker or producer timestamp in milliseconds since the epoch, when present.
    public let timestampMs: Int64?
    private let bytes: [UInt8]
    private let keySpan: ByteSpan
    private let valueSpan: ByteSpan

    public var key: [UInt8]? { keySpan.slice(of: bytes) }
    public var value: [UInt8]? { valueSpan.slice(of: bytes) }

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?,
                headers: [KafkaHeader], timestampMs: Int64?) {
        let keyCount = key?.count ?? 0
        self.init(topic: topic, partition: partition, offset: offset, bytes: (key ?? []) + (value ?? []),
                  key: ByteSpan(start: 0, count: key == nil ? nil : keyCount),
                  value: ByteSpan(start: keyCount, count: value?.count),
                  headers: headers, timestampMs: timestampMs)
    }

    init(topic: String, partition: Int32, offset: Int64, bytes: [UInt8], key: ByteSpan, value: ByteSpan,
         headers: [KafkaHeader], timestampMs: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.bytes = bytes
        self.keySpan = key
        self.valueSpan = value
        self.headers = headers
        self.timestampMs = timestampMs
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }

    public func header(_ key: String) -> [UInt8]? {
        headers.last { $0.key == key }?.value
    }
}

/// Where a record's key or value sits in its chunk's shared buffer; `count == nil` is a null
/// key or value (Kafka tells null from empty).
struct ByteSpan: Sendable {
    var start: Int
    var count: Int?

    init(start: Int, count: Int?) {
        self.start = start
        self.count = count
    }

    /// Copies `count` bytes from librdkafka (a nil pointer is null) to `buffer[end...]` and moves `end` past them.
    init(copying source: UnsafeRawPointer?, count: Int, into buffer: UnsafeMutableBufferPointer<UInt8>, at end: inout Int) {
        start = end
        guard let source else {
            self.count = nil
            return
        }
        self.count = count
        if count > 0 {
            UnsafeMutableRawPointer(buffer.baseAddress! + end).copyMemory(from: source, byteCount: count)
        }
        end += count
    }

    /// The span that `init(copying:…)` gave the same source, without copying again.
    init(at end: inout Int, source: UnsafeRawPointer?, count: Int) {
        start = end
        self.count = source == nil ? nil : count
        if source != nil { end += count }
    }

    func slice(of bytes: [UInt8]) -> [UInt8]? {
        count.map { Array(bytes[start..<start + $0]) }
    }
}
