import CRdKafka
import Foundation
import Logging

/// A topic to create on a real cluster.
public struct NewTopic: Sendable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    public var configs: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// What the cluster reports about a topic.
public struct TopicMetadata: Sendable, Hashable {
    public struct Partition: Sendable, Hashable {
        public let id: Int32
        public let leader: Int32
        public let replicas: [Int32]
        public let inSyncReplicas: [Int32]
    }
    public let name: String
    public let partitions: [Partition]
}

public struct ClusterMetadata: Sendable {
    public let brokers: [Int32: String]
    public let topics: [String: TopicMetadata]
}

/// Topic administration. Requests run on a thread of their own; each call is bounded by `timeout`.
public final class KafkaAdmin: @unchecked Sendable {
    private let native: NativeHandle
    private let callbacks: ClientCallbacks
    private let worker = BlockingWorker(name: "kafka-admin")

    public init(configuration: KafkaConfiguration, logger: Logger = Logger(label: "kafka.admin")) throws {
        callbacks = ClientCallbacks(logger: logger, onStatistics: nil)
        native = NativeHandle(pointer: try makeClientHandle(type: RD_KAFKA_PRODUCER, configuration: configuration, callbacks: callbacks))
    }

    public enum Creation: String, Sendable {
        case created, alreadyExisted
    }

    /// Creates the topics; one that already exists counts as success, so start-up scripts can
    /// run this every time. Throws the first real failure.
    public func createTopics(_ topics: [NewTopic], timeout: Duration = .seconds(30)) async throws -> [String: Creation] {
        let timeoutMs = milliseconds(timeout)
        return try await worker.run { [native] in
            var errorText = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
            for topic in topics {
                guard let newTopic = rd_kafka_NewTopic_new(topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errorText, errorText.count) else {
                    throw KafkaError.local(text(errorText), operation: "create topic \(topic.name)")
                }
                newTopics.append(newTopic)
                for (key, value) in topic.configs {
                    let err = rd_kafka_NewTopic_set_config(newTopic, key, value)
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, operation: "set \(key) on topic \(topic.name)") }
                }
            }
            let queue = rd_kafka_queue_new(native.pointer)
            defer { rd_kafka_queue_destroy(queue) }
            let options = rd_kafka_AdminOptions_new(native.pointer, RD_KAFKA_ADMIN_OP_CREATETOPICS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errorText, errorText.count)
            rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &errorText, errorText.count)
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(native.pointer, buffer.baseAddress, buffer.count, options, queue)
            }
            guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1000) else {
                throw KafkaError.local("no answer within \(timeoutMs) ms", operation: "create topics")
            }
            defer { rd_kafka_event_destroy(event) }
            let eventError = rd_kafka_event_error(event)
            if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(eventError, operation: "create topics", message: String(cString: rd_kafka_event_error_string(event)))
            }
            var count = 0
            let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
            var outcome: [String: Creation] = [:]
            for i in 0..<count {
                let result = results![i]
                let name = String(cString: rd_kafka_topic_result_name(result))
                let err = rd_kafka_topic_result_error(result)
                switch err {
                case RD_KAFKA_RESP_ERR_NO_ERROR: outcome[name] = .created
                case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: outcome[name] = .alreadyExisted
                default:
                    let message = rd_kafka_topic_result_error_string(result).map { String(cString: $0) }
                    throw KafkaError(err, operation: "create topic \(name)", message: message)
                }
            }
            return outcome
        }
    }

    /// Brokers and topics as the cluster sees them now (all topics, or just `topic`).
    public func metadata(topic: String? = nil, timeout: Duration = .seconds(10)) async throws -> ClusterMetadata {
        let timeoutMs = milliseconds(timeout)
        return try await worker.run { [native] in
            var result: UnsafePointer<rd_kafka_metadata>?
            var topicHandle: OpaquePointer?
            if let topic { topicHandle = rd_kafka_topic_new(native.pointer, topic, nil) }
            defer { if let topicHandle { rd_kafka_topic_destroy(topicHandle) } }
            let err = rd_kafka_metadata(native.pointer, topicHandle == nil ? 1 : 0, topicHandle, &result, timeoutMs)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata = result else {
                throw KafkaError(err, operation: "fetch metadata")
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            var brokers: [Int32: String] = [:]
            for i in 0..<Int(metadata.pointee.broker_cnt) {
                let broker = metadata.pointee.brokers[i]
                brokers[broker.id] = "\(String(cString: broker.host)):\(broker.port)"
            }
            var topics: [String: TopicMetadata] = [:]
            for i in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[i]
                guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                let partitions = (0..<Int(topic.partition_cnt)).map { j -> TopicMetadata.Partition in
                    let p = topic.partitions[j]
                    return TopicMetadata.Partition(
                        id: p.id, leader: p.leader,
                        replicas: Array(UnsafeBufferPointer(start: p.replicas, count: Int(p.replica_cnt))),
                        inSyncReplicas: Array(UnsafeBufferPointer(start: p.isrs, count: Int(p.isr_cnt))))
                }.sorted { $0.id < $1.id }
                let name = String(cString: topic.topic)
                topics[name] = TopicMetadata(name: name, partitions: partitions)
            }
            return ClusterMetadata(brokers: brokers, topics: topics)
        }
    }

    /// Every ACL binding the cluster holds; bindings outside `KafkaACL`'s model (another
    /// resource type, a match pattern) come back in `foreign`, described.
    public func describeACLs(timeout: Duration = .seconds(30)) async throws -> (acls: [KafkaACL], foreign: [String]) {
        let timeoutMs = milliseconds(timeout)
        return try await worker.run { [native] in
            var errorText = [CChar](repeating: 0, count: 512)
            guard let filter = rd_kafka_AclBindingFilter_new(
                RD_KAFKA_RESOURCE_ANY, nil, RD_KAFKA_RESOURCE_PATTERN_ANY, nil, nil,
                RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, &errorText, errorText.count) else {
                throw KafkaError.local(text(errorText), operation: "describe ACLs")
            }
            defer { rd_kafka_AclBinding_destroy(filter) }
            let event = try Self.request(native, RD_KAFKA_ADMIN_OP_DESCRIBEACLS, "describe ACLs", timeoutMs) { options, queue in
                rd_kafka_DescribeAcls(native.pointer, filter, options, queue)
            }
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            let bindings = rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(event), &count)
            var acls: [KafkaACL] = []
            var foreign: [String] = []
            for i in 0..<count {
                guard let binding = bindings?[i] else { continue }
                let read = KafkaACL.from(native: binding)
                if let acl = read.acl { acls.append(acl) } else { foreign.append(read.description) }
            }
            return (acls.sorted(), foreign)
        }
    }

    /// Creates the bindings (an existing one is left as it is); throws the first refusal.
    public func createACLs(_ acls: [KafkaACL], timeout: Duration = .seconds(30)) async throws {
        guard !acls.isEmpty else { return }
        let timeoutMs = milliseconds(timeout)
        try await worker.run { [native] in
            var bindings: [OpaquePointer?] = []
            defer { bindings.forEach { rd_kafka_AclBinding_destroy($0) } }
            for acl in acls { bindings.append(try acl.makeNativeBinding()) }
            let event = try Self.request(native, RD_KAFKA_ADMIN_OP_CREATEACLS, "create ACLs", timeoutMs) { options, queue in
                bindings.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_CreateAcls(native.pointer, buffer.baseAddress, buffer.count, options, queue)
                }
            }
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            let results = rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(event), &count)
            for i in 0..<count {
                if let error = rd_kafka_acl_result_error(results?[i]) {
                    let acl = i < acls.count ? "\(acls[i])" : "ACL #\(i)"
                    throw KafkaError(rd_kafka_error_code(error), operation: "create ACL \(acl)",
                                     message: String(cString: rd_kafka_error_string(error)))
                }
            }
        }
    }

    /// Deletes exactly these bindings; throws the first refusal.
    public func deleteACLs(_ acls: [KafkaACL], timeout: Duration = .seconds(30)) async throws {
        guard !acls.isEmpty else { return }
        let timeoutMs = milliseconds(timeout)
        try await worker.run { [native] in
            var filters: [OpaquePointer?] = []
            defer { filters.forEach { rd_kafka_AclBinding_destroy($0) } }
            for acl in acls { filters.append(try acl.makeNativeBinding(filter: true)) }
            let event = try Self.request(native, RD_KAFKA_ADMIN_OP_DELETEACLS, "delete ACLs", timeoutMs) { options, queue in
                filters.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_DeleteAcls(native.pointer, buffer.baseAddress, buffer.count, options, queue)
                }
            }
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            let responses = rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(event), &count)
            for i in 0..<count {
                if let error = rd_kafka_DeleteAcls_result_response_error(responses?[i]) {
                    let acl = i < acls.count ? "\(acls[i])" : "ACL #\(i)"
                    throw KafkaError(rd_kafka_error_code(error), operation: "delete ACL \(acl)",
                                     message: String(cString: rd_kafka_error_string(error)))
                }
            }
        }
    }

    /// Sends one admin request and waits for its result event (the caller destroys it); a
    /// request-level error (the broker refused or does not support it) is thrown.
    private static func request(_ native: NativeHandle, _ kind: rd_kafka_admin_op_t, _ what: String, _ timeoutMs: Int32,
                                send: (OpaquePointer?, OpaquePointer?) -> Void) throws -> OpaquePointer {
        var errorText = [CChar](repeating: 0, count: 512)
        let queue = rd_kafka_queue_new(native.pointer)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(native.pointer, kind)
        defer { rd_kafka_AdminOptions_destroy(options) }
        rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errorText, errorText.count)
        send(options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1000) else {
            throw KafkaError.local("no answer within \(timeoutMs) ms", operation: what)
        }
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            let message = String(cString: rd_kafka_event_error_string(event))
            rd_kafka_event_destroy(event)
            throw KafkaError(eventError, operation: what, message: message)
        }
        return event
    }

    public func close() async {
        await worker.run { [native] in rd_kafka_destroy(native.pointer) }
        worker.stop()
    }
}

func milliseconds(_ duration: Duration) -> Int32 {
    Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
}
